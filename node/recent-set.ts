/**
 * A set of at most `capacity` strings that forgets the oldest first: what a node keeps to
 * recognise something it has just seen (a delivered message id, a written row) without
 * growing with everything it ever saw. A repeat does not refresh an entry's place.
 *
 * The order of arrival is kept in a ring of its own: a Set used as the queue (deleting its
 * first entry) makes V8 step over the holes earlier deletions left at its front on every
 * `values().next()`, about 30 µs per entry at 20,000 entries.
 */
export class RecentSet {
  private readonly entries = new Set<string>();
  private readonly ring: (string | undefined)[];
  /** Where the next entry goes in the ring: once it is full, the oldest entry's place. */
  private next = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity).fill(undefined);
  }

  /** Remembers `entry`; true when it was not remembered already. */
  add(entry: string): boolean {
    if (this.entries.has(entry)) return false;
    const oldest = this.ring[this.next];
    if (oldest !== undefined) this.entries.delete(oldest);
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    this.entries.add(entry);
    return true;
  }

  has(entry: string): boolean {
    return this.entries.has(entry);
  }
}
