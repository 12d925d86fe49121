import { messageIdTime } from '../protocol/ids.js';

/**
 * Messages are partitioned by `(conv_id, bucket)`: one partition per conversation per
 * day. A day keeps a busy conversation's partition bounded, while a quiet conversation's
 * history page still comes from one or two partitions.
 */
export const BUCKET_MS = 86_400_000;

/** The bucket that holds a millisecond timestamp (ms since the epoch, not negative). */
export function bucketOfTime(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a message time: ${ms}`);
  return Math.floor(ms / BUCKET_MS);
}

/** The bucket of a message, from the time inside its id. */
export function bucketOfMessageId(id: string): number {
  return bucketOfTime(messageIdTime(id));
}

/** The first millisecond of a bucket. */
export function bucketStart(bucket: number): number {
  return bucket * BUCKET_MS;
}
