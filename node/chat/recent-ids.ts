/**
 * The ids of the last `capacity` messages this node delivered, oldest forgotten first.
 *
 * Routing is at least once: a publish whose reply was lost when a Redis server died may
 * have been applied, and a survivor finishing a dead node's work routes its messages
 * again. The node drops an inbox entry for a message it has already delivered, so a
 * socket still sees each message once.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** Remembers `id`; true when it was not remembered already. */
  remember(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    // A Set iterates in insertion order: the first is the oldest.
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
