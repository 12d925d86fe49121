/**
 * Writes the operator made to objects it has no cache of (it may not read Secrets, and it
 * watches no ServiceMonitors): the same write is not repeated within `recheckMs`, so a
 * steady state makes no writes, yet an object deleted by hand comes back within that time.
 */
export class RecentWrites {
  private readonly writes = new Map<string, { what: string; at: number }>();

  constructor(
    private readonly recheckMs: number,
    private readonly now: () => number,
  ) {}

  /** Whether `what` (a hash, "created", "deleted") was written to `id` within the recheck time. */
  isFresh(id: string, what: string): boolean {
    const write = this.writes.get(id);
    return write !== undefined && write.what === what && this.now() - write.at < this.recheckMs;
  }

  record(id: string, what: string): void {
    const now = this.now();
    this.writes.set(id, { what, at: now });
    for (const [known, write] of this.writes) if (now - write.at >= this.recheckMs) this.writes.delete(known);
  }
}
