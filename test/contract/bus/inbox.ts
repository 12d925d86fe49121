import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../../../node/bus/bus.js';
import { Gate } from '../../support/gate.js';
import { messageEnvelope, publishRange, QUIET_MS, range, seqOf, unique, useBus, WAIT, type OpenBus } from './harness.js';

/** The inbox port of the Bus contract. */
export function describeInboxContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: inbox`, () => {
    const h = useBus(open);
    it('delivers every envelope published to a node, in publish order', async () => {
      const node = unique('node');
      const seen = await h.collect(node);
      await publishRange(h.bus, node, 1, 50);
      await vi.waitFor(() => {
        expect(seen).toHaveLength(50);
      }, WAIT);
      expect(seen).toEqual(range(1, 50));
    });

    it('hands over envelopes intact', async () => {
      const node = unique('node');
      const received: Envelope[] = [];
      h.cleanups.push(
        await h.bus.inbox.consume(node, (envelope) => {
          received.push(envelope);
          return Promise.resolve();
        }),
      );
      const membership: Envelope = { kind: 'membership', user: 'carol', group: 'team', joined: true };
      const groupMessage = messageEnvelope(7, null);
      await h.bus.inbox.publish(node, messageEnvelope(1, ['bob', 'dave']));
      await h.bus.inbox.publish(node, membership);
      await h.bus.inbox.publish(node, groupMessage);
      await vi.waitFor(() => {
        expect(received).toHaveLength(3);
      }, WAIT);
      expect(received).toEqual([messageEnvelope(1, ['bob', 'dave']), membership, groupMessage]);
    });

    it('delivers an envelope only to the node it was published to', async () => {
      const nodeA = unique('node-a');
      const nodeB = unique('node-b');
      const nodeC = unique('node-c');
      const seenA = await h.collect(nodeA);
      const seenB = await h.collect(nodeB);
      const seenC = await h.collect(nodeC);
      await h.bus.inbox.publish(nodeA, messageEnvelope(1));
      await h.bus.inbox.publish(nodeB, messageEnvelope(2));
      await h.bus.inbox.publish(nodeA, messageEnvelope(3));
      await h.bus.inbox.publish(nodeB, messageEnvelope(4));
      await vi.waitFor(() => {
        expect(seenA).toEqual([1, 3]);
        expect(seenB).toEqual([2, 4]);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(seenA).toEqual([1, 3]);
      expect(seenB).toEqual([2, 4]);
      expect(seenC).toEqual([]);
    });

    it('keeps what is published before the node consumes, and delivers it once it does', async () => {
      const node = unique('node');
      await publishRange(h.bus, node, 1, 5);
      const seen = await h.collect(node);
      await publishRange(h.bus, node, 6, 8);
      await vi.waitFor(() => {
        expect(seen).toHaveLength(8);
      }, WAIT);
      expect(seen).toEqual(range(1, 8));
    });

    it('awaits the handler: the next envelope waits until the previous one is processed', async () => {
      const node = unique('node');
      let running = 0;
      let mostAtOnce = 0;
      const seen = await h.collect(node, async () => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await sleep(10);
        running -= 1;
      });
      await publishRange(h.bus, node, 1, 10);
      await vi.waitFor(() => {
        expect(seen).toHaveLength(10);
      }, WAIT);
      expect(seen).toEqual(range(1, 10));
      expect(mostAtOnce).toBe(1);
    });

    it('resumes after the last processed envelope when consumed again, losing and repeating none', async () => {
      const node = unique('node');
      const seen: number[] = [];
      const handler = (envelope: Envelope): Promise<void> => {
        seen.push(seqOf(envelope));
        return Promise.resolve();
      };
      const stop = await h.bus.inbox.consume(node, handler);
      await publishRange(h.bus, node, 1, 5);
      await vi.waitFor(() => {
        expect(seen).toHaveLength(5);
      }, WAIT);
      await stop();

      await publishRange(h.bus, node, 6, 10);
      await sleep(QUIET_MS);
      expect(seen).toEqual(range(1, 5));

      h.cleanups.push(await h.bus.inbox.consume(node, handler));
      await publishRange(h.bus, node, 11, 12);
      await vi.waitFor(() => {
        expect(seen).toHaveLength(12);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(seen).toEqual(range(1, 12));
    });

    it('stops at unsubscribe in the middle of a backlog, and the next consumer carries on exactly', async () => {
      const node = unique('node');
      await publishRange(h.bus, node, 1, 30);
      const seen: number[] = [];
      const [atTen, released] = [new Gate(), new Gate()];
      const stop = await h.bus.inbox.consume(node, async (envelope) => {
        seen.push(seqOf(envelope));
        if (seen.length === 10) {
          atTen.open();
          await released.passed;
        }
      });
      await atTen.passed;
      const stopping = stop();
      released.open();
      await stopping;
      const processed = seen.length;
      expect(processed).toBeGreaterThanOrEqual(10);
      expect(seen).toEqual(range(1, processed));
      await sleep(QUIET_MS);
      expect(seen).toHaveLength(processed);

      h.cleanups.push(
        await h.bus.inbox.consume(node, (envelope) => {
          seen.push(seqOf(envelope));
          return Promise.resolve();
        }),
      );
      await vi.waitFor(() => {
        expect(seen).toHaveLength(30);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(seen).toEqual(range(1, 30));
    });

    it('keeps consuming after a handler throws', async () => {
      const node = unique('node');
      const seen = await h.collect(node, (envelope) => {
        if (seqOf(envelope) === 2) return Promise.reject(new Error('handler failed on purpose'));
        return Promise.resolve();
      });
      await publishRange(h.bus, node, 1, 4);
      await vi.waitFor(() => {
        expect(seen).toEqual([1, 2, 3, 4]);
      }, WAIT);
    });

    it('delivers nothing more after unsubscribe', async () => {
      const node = unique('node');
      const seen: number[] = [];
      const stop = await h.bus.inbox.consume(node, (envelope) => {
        seen.push(seqOf(envelope));
        return Promise.resolve();
      });
      await h.bus.inbox.publish(node, messageEnvelope(1));
      await vi.waitFor(() => {
        expect(seen).toEqual([1]);
      }, WAIT);
      await stop();
      await h.bus.inbox.publish(node, messageEnvelope(2));
      await sleep(QUIET_MS);
      expect(seen).toEqual([1]);
    });
  });

}
