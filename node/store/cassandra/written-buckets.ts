/**
 * The conversation buckets this store has written a `conversation_buckets` row for, so
 * the row is written once per conversation and day instead of with every message. Rows of
 * that table are never deleted, so one written once stays; a bucket forgotten (the oldest
 * go first beyond `capacity`) is only written again. A ring keeps the order, as in
 * RecentIds: deleting a Set's first entry makes V8 step over the holes left before it.
 */
export class WrittenBuckets {
  private readonly keys = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity).fill(undefined);
  }

  /** Whether the row of `bucket` of `conv` is known to be written. */
  has(conv: string, bucket: number): boolean {
    return this.keys.has(keyOf(conv, bucket));
  }

  /** Notes that the row of `bucket` of `conv` is durably written. */
  add(conv: string, bucket: number): void {
    const key = keyOf(conv, bucket);
    if (this.keys.has(key)) return;
    const oldest = this.ring[this.next];
    if (oldest !== undefined) this.keys.delete(oldest);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
    this.keys.add(key);
  }
}

/** Conversation ids are `dm:<a>:<b>` or `g:<name>`: never a space. */
function keyOf(conv: string, bucket: number): string {
  return `${conv} ${bucket}`;
}
