import { ChatError } from '../../protocol/errors.js';
import type { Envelope, EnvelopeHandler, Inbox, Unsubscribe } from '../bus.js';
import { ENVELOPE_FIELD } from './codec.js';
import { openConnection, type BusSettings, type RedisClient } from './connection.js';
import { InboxConsumer, READ_BLOCK_MS } from './inbox-consumer.js';
import type { BusKeys } from './keys.js';
import { ProcessedEntries } from './processed-entries.js';
import { reach, resultsOf } from './replies.js';

/** The largest sequence number of a stream id (2^64 - 1). */
const MAX_SEQUENCE = '18446744073709551615';

/** Inboxes as streams, each consumed on a connection of its own (XREAD blocks it). */
export class RedisInbox implements Inbox {
  private readonly consumers = new Map<string, InboxConsumer>();
  /** Per node, the id of the last envelope processed, where the next consume starts. */
  private readonly cursors = new Map<string, string>();
  /** When each inbox this bus publishes to last had its expiry pushed out (ms). */
  private readonly expiryRefreshedAt = new Map<string, number>();
  /**
   * Where a node's first consume starts: just before this bus opened (Redis clock), so
   * envelopes published to it since are delivered and a previous process's leftovers are not.
   */
  private readonly firstCursor: string;
  private readonly processedEntries: ProcessedEntries;
  private closed = false;

  constructor(
    private readonly settings: BusSettings,
    private readonly commands: RedisClient,
    private readonly keys: BusKeys,
    openedAtMs: number,
  ) {
    this.firstCursor = `${openedAtMs - 1}-${MAX_SEQUENCE}`;
    this.processedEntries = new ProcessedEntries(commands);
  }

  /** Appends to a node's inbox (trimmed to about inboxMaxLength, expiring when unused). */
  async publish(node: string, envelope: Envelope): Promise<void> {
    const key = this.keys.inbox(node);
    const { inboxMaxLength, inboxTtlSeconds } = this.settings;
    const payload = JSON.stringify(envelope);
    // One XADD per entry; the inbox's expiry (which clears a dead node's inbox) is pushed out
    // at most once a minute per inbox, in the same round trip, not on every entry.
    const now = Date.now();
    const refreshExpiry = (this.expiryRefreshedAt.get(key) ?? 0) < now - 60_000;
    await reach('publish to an inbox', async () => {
      if (!refreshExpiry) {
        await this.commands.xadd(key, 'MAXLEN', '~', inboxMaxLength, '*', ENVELOPE_FIELD, payload);
        return;
      }
      resultsOf(await this.commands.pipeline().xadd(key, 'MAXLEN', '~', inboxMaxLength, '*', ENVELOPE_FIELD, payload).expire(key, inboxTtlSeconds).exec());
      this.expiryRefreshedAt.set(key, now);
    });
  }

  /** Consumes a node's inbox in order, after the last envelope this bus processed for it. */
  consume(node: string, handler: EnvelopeHandler): Promise<Unsubscribe> {
    if (this.closed) return Promise.reject(new ChatError('unavailable', 'the bus is closed'));
    if (this.consumers.has(node)) {
      // Two loops on one cursor would hand envelopes out twice.
      return Promise.reject(new Error(`the inbox of ${node} is already being consumed`));
    }
    const connection = openConnection(this.settings, `inbox:${node}`, { socketTimeout: READ_BLOCK_MS * 2 });
    const processed = this.cursors.get(node);
    const key = this.keys.inbox(node);
    const consumer = new InboxConsumer(
      connection,
      key,
      processed === undefined ? { at: this.firstCursor, isAnEntry: false } : { at: processed, isAnEntry: true },
      handler,
      (id) => {
        this.cursors.set(node, id);
        this.processedEntries.processed(key, id);
      },
      this.settings.report,
    );
    this.consumers.set(node, consumer);
    return Promise.resolve(async () => {
      if (this.consumers.get(node) !== consumer) return;
      this.consumers.delete(node);
      await consumer.stop();
    });
  }

  /** Deletes a node's inbox (its expiry would clear it only after inboxTtlSeconds). */
  async remove(node: string): Promise<void> {
    await reach('remove an inbox', () => this.commands.del(this.keys.inbox(node)));
  }

  /** Stops every consumer. */
  async close(): Promise<void> {
    this.closed = true;
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    this.processedEntries.close();
  }
}
