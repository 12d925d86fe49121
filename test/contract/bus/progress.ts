import { describe, expect, it } from 'vitest';
import type { InFlightEntry } from '../../../node/bus/bus.js';
import { messageEnvelope, unique, useBus, type OpenBus } from './harness.js';

/** The progress port of the Bus contract. */
export function describeProgressContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: progress`, () => {
    const h = useBus(open);
    const entry = (seq: number, exceptSession?: string, idem?: string): InFlightEntry => {
      const envelope = messageEnvelope(seq);
      if (envelope.kind !== 'message') throw new Error('a message envelope');
      return {
        message: envelope.message,
        acceptedAt: envelope.acceptedAt,
        ...(exceptSession === undefined ? {} : { exceptSession }),
        ...(idem === undefined ? {} : { idem }),
      };
    };

    it('keeps what a node has in flight, intact and oldest first, until it is settled', async () => {
      const node = unique('node');
      await h.bus.progress.track(node, entry(3));
      await h.bus.progress.track(node, entry(1, 'session-1'));
      await h.bus.progress.track(node, entry(2, undefined, 'idem-2'));
      expect(await h.bus.progress.unsettled(node)).toEqual([entry(1, 'session-1'), entry(2, undefined, 'idem-2'), entry(3)]);
      await h.bus.progress.exchange(node, '01J00000000000000000000000', [entry(1).message.id, entry(3).message.id]);
      expect(await h.bus.progress.unsettled(node)).toEqual([entry(2, undefined, 'idem-2')]);
      expect(await h.bus.progress.unsettled(unique('node'))).toEqual([]);
    });

    it('settles entries at once, without an exchange', async () => {
      const node = unique('node');
      await h.bus.progress.track(node, entry(1));
      await h.bus.progress.track(node, entry(2, undefined, 'idem-2'));
      await h.bus.progress.settle(node, [entry(2).message.id]);
      expect(await h.bus.progress.unsettled(node)).toEqual([entry(1)]);
      await h.bus.progress.settle(node, []);
      expect(await h.bus.progress.unsettled(node)).toEqual([entry(1)]);
    });

    it('an exchange answers what was published before its own write, and later ones see it', async () => {
      const [first, second] = [unique('node'), unique('node')];
      const before = await h.bus.progress.exchange(first, '01J0000000000000000000000A', []);
      expect(before.has(first)).toBe(false);
      const seen = await h.bus.progress.exchange(second, '01J0000000000000000000000B', []);
      expect(seen.get(first)).toBe('01J0000000000000000000000A');
      expect(seen.has(second)).toBe(false);
      const again = await h.bus.progress.exchange(first, '01J0000000000000000000000C', []);
      expect(again.get(first)).toBe('01J0000000000000000000000A');
      expect(again.get(second)).toBe('01J0000000000000000000000B');
    });

    it('forgetting a node removes its watermark and what it had in flight', async () => {
      const [node, other] = [unique('node'), unique('node')];
      await h.bus.progress.track(node, entry(1));
      await h.bus.progress.exchange(node, '01J0000000000000000000000A', []);
      await h.bus.progress.forget(node);
      expect(await h.bus.progress.unsettled(node)).toEqual([]);
      expect((await h.bus.progress.exchange(other, '01J0000000000000000000000B', [])).has(node)).toBe(false);
    });
  });
}
