/**
 * How long a socket's mapping rows outlive their last write. Survivors delete a dead node's
 * rows at once (NodeRegistry.removeDeadNodes); the TTL is the backstop for when no node is
 * left to do it. An hour, not a minute: every row is written again within a quarter of it,
 * and at a minute's TTL a node holding 10,000 sockets rewrote 667 rows a second, a million
 * users twice the Cassandra writes their messages need.
 */
export const SESSION_TTL_SECONDS = 3_600;

/** The round within which every row is written once: a quarter of the TTL. */
const REFRESH_ROUND_MS = (SESSION_TTL_SECONDS * 1000) / 4;

/** Beats over which all of a node's rows are written once. */
export function beatsPerRefreshRound(heartbeatMs: number): number {
  return Math.max(1, Math.floor(REFRESH_ROUND_MS / heartbeatMs));
}

/** The mapping-row writes per second that keep `sockets` open sockets' rows alive (one batch each per round). */
export function refreshesPerSecond(sockets: number): number {
  return sockets / (REFRESH_ROUND_MS / 1000);
}

/**
 * The sockets whose rows this beat writes again: the next `1/beatsPerRound` of them from
 * `cursor`, wrapping, so the writes are spread evenly over the round rather than all at
 * once. Sockets come and go between beats, which can shift one past the cursor for a round;
 * it is then written in the next, still well within the TTL.
 */
export function refreshShare<T>(sockets: readonly T[], cursor: number, beatsPerRound: number): { share: T[]; next: number } {
  if (sockets.length === 0) return { share: [], next: 0 };
  const start = cursor % sockets.length;
  const count = Math.ceil(sockets.length / beatsPerRound);
  const share = sockets.slice(start, start + count);
  if (share.length < count) share.push(...sockets.slice(0, count - share.length));
  return { share, next: (start + count) % sockets.length };
}
