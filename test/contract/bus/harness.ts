import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import type { Bus, Envelope, Unsubscribe } from '../../../node/bus/bus.js';

/** An open bus and how to close it, as each implementation's test file provides it. */
export interface OpenBus {
  bus: Bus;
  close(): Promise<void>;
}

/** Long enough for any bus to deliver something that is going to arrive, for "nothing arrives" checks. */
export const QUIET_MS = 300;
export const WAIT = { timeout: 5_000, interval: 20 };

/** A name no other test (or earlier run on the same server) uses. */
export function unique(base: string): string {
  return `${base}-${randomUUID().slice(0, 8)}`;
}

/** A direct-message envelope numbered `seq`; `users: null` makes a group message, which names no users. */
export function messageEnvelope(seq: number, users: string[] | null = ['bob']): Envelope {
  const envelope: Envelope = {
    kind: 'message',
    message: {
      id: `01J${String(seq).padStart(23, '0')}`,
      conv: 'dm:alice:bob',
      from: 'alice',
      to: { user: 'bob' },
      text: `message ${seq}`,
      ts: 1_700_000_000_000 + seq,
    },
    acceptedAt: 1_700_000_000_000 + seq,
  };
  return users === null ? envelope : { ...envelope, users };
}

/** The number `messageEnvelope` gave an envelope. */
export function seqOf(envelope: Envelope): number {
  if (envelope.kind !== 'message') throw new Error(`expected a message envelope, got ${envelope.kind}`);
  return Number(envelope.message.text.replace('message ', ''));
}

/** The integers from..to, inclusive. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

/** Publishes envelopes numbered `from`..`to` to `node`, one after another (so in that order). */
export async function publishRange(bus: Bus, node: string, from: number, to: number): Promise<void> {
  for (const seq of range(from, to)) await bus.inbox.publish(node, messageEnvelope(seq));
}

/** What a port's suite works with: a fresh bus per test, and clean-ups run after it. */
export interface BusHarness {
  readonly bus: Bus;
  readonly cleanups: Unsubscribe[];
  /** Consumes `node`'s inbox into the returned list (of sequence numbers), stopped after the test. */
  collect(node: string, handler?: (envelope: Envelope) => Promise<void>): Promise<number[]>;
}

/** Opens a bus before each test of the calling `describe` and closes it (after its clean-ups) after. */
export function useBus(open: () => Promise<OpenBus>): BusHarness {
  let opened: OpenBus | undefined;
  const cleanups: Unsubscribe[] = [];
  beforeEach(async () => {
    opened = await open();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await opened?.close();
  });
  const harness: BusHarness = {
    get bus(): Bus {
      if (opened === undefined) throw new Error('no bus open outside a test');
      return opened.bus;
    },
    cleanups,
    async collect(node, handler) {
      const seen: number[] = [];
      cleanups.push(
        await harness.bus.inbox.consume(node, async (envelope) => {
          seen.push(seqOf(envelope));
          await handler?.(envelope);
        }),
      );
      return seen;
    },
  };
  return harness;
}

