import type { InFlightEntry, ProgressLedger } from '../bus.js';
import type { RedisClient } from './connection.js';
import type { BusKeys } from './keys.js';
import { reach, resultsOf } from './replies.js';

/** The progress ledger on Redis: one hash of watermarks, one hash of in-flight messages per node. */
export class RedisProgressLedger implements ProgressLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
  ) {}

  /** Records an accepted message under its id. */
  async track(node: string, entry: InFlightEntry): Promise<void> {
    await reach('record a message in flight', () => this.redis.hset(this.keys.inFlight(node), entry.message.id, JSON.stringify(entry)));
  }

  /**
   * Reads the watermarks, then writes this node's (one pipeline on the one hash), and drops
   * its settled entries beside it (another key, on another master of a Cluster).
   */
  async exchange(node: string, watermark: string, settled: readonly string[]): Promise<Map<string, string>> {
    const [[published]] = await reach('exchange watermarks', () =>
      Promise.all([
        this.redis.pipeline().hgetall(this.keys.watermarks()).hset(this.keys.watermarks(), node, watermark).exec().then(resultsOf),
        settled.length > 0 ? this.redis.hdel(this.keys.inFlight(node), ...settled) : Promise.resolve(0),
      ]),
    );
    return new Map(Object.entries(published as Record<string, string>));
  }

  /** A node's unsettled entries, oldest id first; unreadable ones are skipped. */
  async unsettled(node: string): Promise<InFlightEntry[]> {
    const entries = await reach('read messages in flight', () => this.redis.hgetall(this.keys.inFlight(node)));
    return Object.keys(entries)
      .sort()
      .flatMap((id) => {
        const entry = parseEntry(entries[id] ?? '');
        return entry === undefined ? [] : [entry];
      });
  }

  async settle(node: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await reach('settle messages in flight', () => this.redis.hdel(this.keys.inFlight(node), ...ids));
  }

  /**
   * Drops a node's in-flight entries, then its watermark: two keys (two masters of a
   * Cluster), in the order that, should the second fail, leaves the watermark holding
   * cursors back (safe) rather than entries without it.
   */
  async forget(node: string): Promise<void> {
    await reach('forget a node’s progress', async () => {
      await this.redis.del(this.keys.inFlight(node));
      await this.redis.hdel(this.keys.watermarks(), node);
    });
  }
}

function parseEntry(text: string): InFlightEntry | undefined {
  try {
    const value = JSON.parse(text) as Partial<InFlightEntry>;
    if (typeof value.message?.id !== 'string' || typeof value.acceptedAt !== 'number') return undefined;
    if (value.idem !== undefined && typeof value.idem !== 'string') return undefined;
    return value as InFlightEntry;
  } catch {
    return undefined;
  }
}
