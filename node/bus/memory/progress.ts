import type { InFlightEntry, ProgressLedger } from '../bus.js';

/** The progress ledger in process, with the Redis one's behaviour. */
export class MemoryProgressLedger implements ProgressLedger {
  private readonly watermarks = new Map<string, string>();
  private readonly inFlight = new Map<string, Map<string, InFlightEntry>>();

  track(node: string, entry: InFlightEntry): Promise<void> {
    const entries = this.inFlight.get(node) ?? new Map<string, InFlightEntry>();
    this.inFlight.set(node, entries);
    entries.set(entry.message.id, structuredClone(entry));
    return Promise.resolve();
  }

  exchange(node: string, watermark: string, settled: readonly string[]): Promise<Map<string, string>> {
    const published = new Map(this.watermarks);
    this.watermarks.set(node, watermark);
    for (const id of settled) this.inFlight.get(node)?.delete(id);
    return Promise.resolve(published);
  }

  unsettled(node: string): Promise<InFlightEntry[]> {
    const entries = [...(this.inFlight.get(node)?.values() ?? [])];
    entries.sort((a, b) => (a.message.id < b.message.id ? -1 : 1));
    return Promise.resolve(entries.map((entry) => structuredClone(entry)));
  }

  settle(node: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) this.inFlight.get(node)?.delete(id);
    return Promise.resolve();
  }

  forget(node: string): Promise<void> {
    this.watermarks.delete(node);
    this.inFlight.delete(node);
    return Promise.resolve();
  }
}
