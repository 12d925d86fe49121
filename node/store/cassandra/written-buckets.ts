import { RecentSet } from '../../recent-set.js';

/**
 * The conversation buckets this store has written a `conversation_buckets` row for, so
 * the row is written once per conversation and day instead of with every message. Rows of
 * that table are never deleted, so one written once stays; a bucket forgotten (the oldest
 * go first beyond `capacity`) is only written again.
 */
export class WrittenBuckets {
  private readonly written: RecentSet;

  constructor(capacity: number) {
    this.written = new RecentSet(capacity);
  }

  /** Whether the row of `bucket` of `conv` is known to be written. */
  has(conv: string, bucket: number): boolean {
    return this.written.has(keyOf(conv, bucket));
  }

  /** Notes that the row of `bucket` of `conv` is durably written. */
  add(conv: string, bucket: number): void {
    this.written.add(keyOf(conv, bucket));
  }
}

/** Conversation ids are `dm:<a>:<b>` or `g:<name>`: never a space. */
function keyOf(conv: string, bucket: number): string {
  return `${conv} ${bucket}`;
}
