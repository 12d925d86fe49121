import { idTime } from '../protocol/cursor.js';

/**
 * The cluster watermark: the lowest of every node's published watermark, this node's own
 * taken live. No message anywhere in the cluster is still in flight below it, so every id
 * below it is stored and routed (the Synapse multi-writer rule: a stream position never
 * passes a writer that is still persisting).
 */
export function clusterWatermark(published: ReadonlyMap<string, string>, self: string, own: string): string {
  let lowest = own;
  for (const [node, watermark] of published) if (node !== self && watermark < lowest) lowest = watermark;
  return lowest;
}

/**
 * The time this node's id clock must reach, from the other nodes' watermarks (ms):
 * - past the lowest of them, so a node that (re)joins never takes ids below a
 *   watermark that cursors may already have passed;
 * - the highest of them when it is at most `maxLeadMs` ahead of this node's clock, so a
 *   node whose clock is behind does not hold the cluster back by its skew (a hybrid
 *   logical clock); a clock further ahead than that is not followed, as a wrong clock.
 */
export function clockToFollow(published: ReadonlyMap<string, string>, self: string, now: number, maxLeadMs: number): number {
  let lowest = Number.POSITIVE_INFINITY;
  let highestFollowed = Number.NEGATIVE_INFINITY;
  for (const [node, watermark] of published) {
    if (node === self) continue;
    const time = idTime(watermark);
    lowest = Math.min(lowest, time);
    if (time <= now + maxLeadMs) highestFollowed = Math.max(highestFollowed, time);
  }
  if (lowest === Number.POSITIVE_INFINITY) return now;
  // One millisecond past: ids of the same millisecond as a watermark may sort below it.
  return Math.max(now, lowest + 1, highestFollowed + 1);
}
