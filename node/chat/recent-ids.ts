/**
 * The ids of the last `capacity` messages this node delivered, oldest forgotten first.
 *
 * Routing is at least once: a publish whose reply was lost when a Redis server died may
 * have been applied, and a survivor finishing a dead node's work routes its messages
 * again. The node drops an inbox entry for a message it has already delivered, so a
 * socket still sees each message once.
 *
 * The order of arrival is kept in a ring of its own: a Set used as the queue (deleting its
 * first entry) makes V8 step over the holes earlier deletions left at its front on every
 * `values().next()`, about 30 µs per message at 20,000 ids, twice per message delivered.
 */
export class RecentIds {
  private readonly ids = new Set<string>();
  private readonly ring: (string | undefined)[];
  /** Where the next id goes in the ring: once it is full, the oldest id's place. */
  private next = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity).fill(undefined);
  }

  /** Remembers `id`; true when it was not remembered already. */
  remember(id: string): boolean {
    if (this.ids.has(id)) return false;
    const oldest = this.ring[this.next];
    if (oldest !== undefined) this.ids.delete(oldest);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.ids.add(id);
    return true;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
