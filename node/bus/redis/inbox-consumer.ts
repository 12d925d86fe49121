import { closeConnection, whenConnected, type RedisClient } from './connection.js';
import { ChatError } from '../../protocol/errors.js';
import type { EnvelopeHandler } from '../bus.js';
import { ENVELOPE_FIELD, parseEnvelope } from './codec.js';

const READ_BATCH = 100;
/** How long one XREAD blocks; the inbox connection's socket timeout is twice this. */
export const READ_BLOCK_MS = 5_000;
const RETRY_PAUSE_MS = 250;

/**
 * Reads one node's inbox on a connection of its own, blocking in XREAD, and hands each
 * envelope to the handler in order, one at a time. It survives disconnects: it waits for
 * the connection to come back and reads again after the last envelope it processed.
 */
export class InboxConsumer {
  private stopped = false;
  private cursor: string;
  /** Whether the cursor is the id of an entry processed (else, the moment the bus opened, where the first read starts). */
  private cursorIsAnEntry: boolean;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly connection: RedisClient,
    private readonly key: string,
    start: { at: string; isAnEntry: boolean },
    private readonly handler: EnvelopeHandler,
    private readonly processed: (id: string) => void,
    private readonly report: (error: unknown) => void,
  ) {
    this.cursor = start.at;
    this.cursorIsAnEntry = start.isAnEntry;
    this.loop = whenConnected(connection).then(
      () => this.run(),
      // The loop waits for the connection, which keeps retrying on its own.
      () => this.run(),
    );
  }

  /** Stops reading; resolves once the envelope in hand (if any) has been processed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    closeConnection(this.connection);
    await this.loop;
  }

  /** Read through a method: the flag changes while the loop awaits, which narrowing cannot see. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async run(): Promise<void> {
    let failing = false;
    while (!this.stopped) {
      if (this.connection.status !== 'ready') {
        // Dropped between reads: the server it comes back to is checked as after a failed read.
        failing = true;
        await this.pause(RETRY_PAUSE_MS * 4, true);
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        if (failing) await this.resumeAfterOutage();
        reply = await this.connection.xread('COUNT', READ_BATCH, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.key, this.cursor);
        failing = false;
      } catch (error) {
        if (this.isStopped()) break;
        // One report per outage, not one per retry.
        if (!failing) this.report(new ChatError('unavailable', `cannot read ${this.key}`, { cause: error }));
        failing = true;
        await this.pause(RETRY_PAUSE_MS, true);
        continue;
      }
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        // Entries read but not handled are read again by the next consumer, from the cursor.
        if (this.isStopped()) return;
        await this.deliver(fields);
        this.cursor = id;
        this.cursorIsAnEntry = true;
        this.processed(id);
      }
    }
  }

  /**
   * After an outage the server may not be the one the cursor came from: a restarted Redis
   * without the stream, or a replica that took over without the newest entries it had
   * handed out. Reading on from the cursor is right when the server's stream reaches it.
   * A stream it no longer has is read from its start (all of it is new). A stream that
   * ends before the last entry this reader processed lost those entries: reading goes on
   * after the server's last one. Entries it took since from a clock behind the lost ones
   * are not read; their messages are stored, and the clients' sync returns them. Reading
   * the stream again instead would hand sockets messages and memberships a second time.
   */
  private async resumeAfterOutage(): Promise<void> {
    const last = await lastGeneratedId(this.connection, this.key);
    if (last === undefined) {
      this.cursor = '0-0';
      return;
    }
    // Before the first entry, the cursor is the moment the bus opened, not an entry any server handed out.
    if (!this.cursorIsAnEntry || earlierStreamId(last, this.cursor) === this.cursor) return;
    this.report(new Error(`${this.key} on this server ends at ${last}, before the last entry processed (${this.cursor}): reading on after ${last}`));
    this.cursor = last;
  }

  private async deliver(fields: string[]): Promise<void> {
    try {
      const text = fields[fields.indexOf(ENVELOPE_FIELD) + 1];
      if (text === undefined) throw new Error(`inbox entry has no ${ENVELOPE_FIELD} field`);
      await this.handler(parseEnvelope(text));
    } catch (error) {
      // A poison entry or failing handler is skipped, never retried forever: it would block the inbox.
      this.report(error);
    }
  }

  private pause(ms: number, untilReady: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connection.off('ready', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (untilReady) this.connection.on('ready', done);
      this.wake = done;
    });
  }
}

/** The last id the server generated for the stream at `key` (deleted entries count), or undefined when it has no such stream. */
async function lastGeneratedId(connection: RedisClient, key: string): Promise<string | undefined> {
  try {
    const info = (await connection.xinfo('STREAM', key)) as unknown[];
    const index = info.indexOf('last-generated-id');
    return index === -1 ? undefined : String(info[index + 1]);
  } catch (error) {
    if (error instanceof Error && error.message.includes('no such key')) return undefined;
    throw error;
  }
}

/** The earlier of two stream ids (`<ms>-<seq>`). */
export function earlierStreamId(a: string, b: string): string {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  return aMs < bMs || (aMs === bMs && aSeq <= bSeq) ? a : b;
}

