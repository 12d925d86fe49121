/** Progress lines for slow steps, on stderr so `env:up`'s stdout stays eval-able. */

const HEARTBEAT_MS = 20_000;

export function say(line: string): void {
  process.stderr.write(`[testenv] ${line}\n`);
}

export function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

/** Something a slow step can tell about how far it has come, e.g. "812/2400 packages". */
export interface ProgressProbe {
  (): string | undefined;
}

/**
 * Runs a slow step, saying when it starts, every 20 s while it runs (with `probe`'s
 * account of how far it is), and how long it took.
 */
export async function slowStep<T>(what: string, work: () => Promise<T>, probe?: ProgressProbe): Promise<T> {
  const started = Date.now();
  say(`${what}: started`);
  const timer = setInterval(() => {
    const detail = probe?.();
    say(`${what}: ${detail === undefined ? 'still running' : detail}, ${formatElapsed(Date.now() - started)}`);
  }, HEARTBEAT_MS);
  try {
    const result = await work();
    say(`${what}: done in ${formatElapsed(Date.now() - started)}`);
    return result;
  } finally {
    clearInterval(timer);
  }
}
