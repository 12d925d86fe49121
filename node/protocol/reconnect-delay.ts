/**
 * How long a client waits before reconnecting after a lost socket: exponential, capped,
 * with jitter (PROTOCOL.md asks clients to reconnect; a `drain` names its own delay). The
 * web client and the command-line client both wait this long. No imports: the web bundle
 * carries this module.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 15_000 };

/**
 * The delay before reconnect attempt `attempt` (1 for the first): the ceiling doubles per
 * attempt up to `maxMs`, and the delay is drawn from its upper half ("equal jitter"), so
 * the clients of a dead node do not all come back in the same instant, yet none retries
 * at once.
 */
export function reconnectDelay(attempt: number, random: number, policy: BackoffPolicy = RECONNECT_BACKOFF): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}
