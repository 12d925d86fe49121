import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import type { Signal } from '../../../node/bus/bus.js';
import { QUIET_MS, unique, useBus, WAIT, type OpenBus } from './harness.js';

/** The signals port of the Bus contract. */
export function describeSignalsContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: signals`, () => {
    const h = useBus(open);
    function typing(from: string, users: string[]): Signal {
      return { kind: 'typing', from, conv: `dm:${from}:${users[0] ?? 'x'}`, users };
    }

    it('reach the node they are sent to, and only that node', async () => {
      const nodeA = unique('node-a');
      const nodeB = unique('node-b');
      const atA: Signal[] = [];
      const atB: Signal[] = [];
      h.cleanups.push(await h.bus.signals.subscribe(nodeA, (signal) => atA.push(signal)));
      h.cleanups.push(await h.bus.signals.subscribe(nodeB, (signal) => atB.push(signal)));
      const toA = typing('alice', ['bob']);
      const toB = typing('carol', ['dave', 'erin']);
      await h.bus.signals.send(nodeA, toA);
      await h.bus.signals.send(nodeB, toB);
      await vi.waitFor(() => {
        expect(atA).toEqual([toA]);
        expect(atB).toEqual([toB]);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(atA).toEqual([toA]);
      expect(atB).toEqual([toB]);
    });

    it('carry a group’s typing, which names no users (the receiving node finds its members)', async () => {
      const node = unique('node');
      const received: Signal[] = [];
      h.cleanups.push(await h.bus.signals.subscribe(node, (signal) => received.push(signal)));
      const groupTyping: Signal = { kind: 'typing', from: 'alice', conv: 'g:team' };
      await h.bus.signals.send(node, groupTyping);
      await vi.waitFor(() => {
        expect(received).toEqual([groupTyping]);
      }, WAIT);
    });

    it('arrive as soon as onSignal has resolved', async () => {
      const node = unique('node');
      const received: Signal[] = [];
      h.cleanups.push(await h.bus.signals.subscribe(node, (signal) => received.push(signal)));
      await h.bus.signals.send(node, typing('alice', ['bob']));
      await vi.waitFor(() => {
        expect(received).toHaveLength(1);
      }, WAIT);
    });

    it('stop arriving after unsubscribe', async () => {
      const node = unique('node');
      const received: Signal[] = [];
      const stop = await h.bus.signals.subscribe(node, (signal) => received.push(signal));
      await h.bus.signals.send(node, typing('alice', ['bob']));
      await vi.waitFor(() => {
        expect(received).toHaveLength(1);
      }, WAIT);
      await stop();
      await h.bus.signals.send(node, typing('alice', ['bob']));
      await sleep(QUIET_MS);
      expect(received).toHaveLength(1);
    });

    it('are not kept for a node that is not listening', async () => {
      const node = unique('node');
      await h.bus.signals.send(node, typing('alice', ['bob']));
      const received: Signal[] = [];
      h.cleanups.push(await h.bus.signals.subscribe(node, (signal) => received.push(signal)));
      await sleep(QUIET_MS);
      expect(received).toEqual([]);
    });
  });

}
