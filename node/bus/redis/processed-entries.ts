import type { RedisClient } from './connection.js';

/** How long processed entries stay in an inbox at most (plus a round trip), and so how often one is trimmed under load. */
const TRIM_AFTER_MS = 1_000;

/**
 * Deletes the inbox entries a reader has processed: nothing reads them again (the reader
 * goes on after them; the node's next process starts at the moment its bus opens), and a
 * message text has no business in Redis after its delivery. One `XTRIM MINID` per inbox at
 * most every second, on the shared commands connection (the reader's own is blocked in
 * XREAD), so it costs next to nothing per message under load. Best effort: a trim that
 * fails leaves entries to the next one, the publishers' MAXLEN and the inbox's expiry.
 */
export class ProcessedEntries {
  private readonly lastProcessed = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly commands: RedisClient,
    private readonly trimAfterMs = TRIM_AFTER_MS,
  ) {}

  /** Notes that `key`'s entries up to `id` are processed; they are deleted within a second. */
  processed(key: string, id: string): void {
    this.lastProcessed.set(key, id);
    if (this.timers.has(key)) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.trim(key);
      }, this.trimAfterMs).unref(),
    );
  }

  /** Trims what is pending now and stops. */
  close(): void {
    for (const key of [...this.timers.keys()]) this.trim(key);
  }

  private trim(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const id = this.lastProcessed.get(key);
    if (id === undefined) return;
    this.lastProcessed.delete(key);
    this.commands.xtrim(key, 'MINID', nextStreamId(id)).catch(() => undefined);
  }
}

/** The smallest stream id after `id` (`ms-seq`): MINID of it removes `id` too. */
export function nextStreamId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  const next = BigInt(seq) + 1n;
  return next > 18446744073709551615n ? `${BigInt(ms) + 1n}-0` : `${ms}-${next}`;
}
