import { describe, expect, it, vi } from 'vitest';
import { range, unique, useBus, type OpenBus } from './harness.js';

/** The heartbeats port of the Bus contract. */
export function describeHeartbeatsContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: heartbeats`, () => {
    const h = useBus(open);
    it('a node whose heartbeat lapsed is expired; one still beating is not', async () => {
      const [lapsing, alive, never] = [unique('lapsing'), unique('alive'), unique('never')];
      await h.bus.heartbeats.beat(lapsing, 1);
      await h.bus.heartbeats.beat(alive, 60);
      expect(await h.bus.heartbeats.expired()).not.toContain(lapsing);
      await vi.waitFor(
        async () => {
          expect(await h.bus.heartbeats.expired()).toContain(lapsing);
        },
        { timeout: 5_000, interval: 100 },
      );
      const expired = await h.bus.heartbeats.expired();
      expect(expired).not.toContain(alive);
      expect(expired).not.toContain(never);
    });

    it('a new beat brings an expired node back', async () => {
      const node = unique('node');
      await h.bus.heartbeats.beat(node, 1);
      await vi.waitFor(
        async () => {
          expect(await h.bus.heartbeats.expired()).toContain(node);
        },
        { timeout: 5_000, interval: 100 },
      );
      await h.bus.heartbeats.beat(node, 60);
      expect(await h.bus.heartbeats.expired()).not.toContain(node);
    });

    it('a forgotten node is no longer reported expired', async () => {
      const node = unique('node');
      await h.bus.heartbeats.beat(node, 1);
      await vi.waitFor(
        async () => {
          expect(await h.bus.heartbeats.expired()).toContain(node);
        },
        { timeout: 5_000, interval: 100 },
      );
      await h.bus.heartbeats.forget(node);
      expect(await h.bus.heartbeats.expired()).not.toContain(node);
    });

    it('exactly one of the survivors claims the clean-up of a dead node', async () => {
      const [dead, otherDead] = [unique('dead'), unique('dead')];
      const claims = await Promise.all(range(1, 8).map(() => h.bus.heartbeats.claimCleanup(dead, 30)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await h.bus.heartbeats.claimCleanup(dead, 30)).toBe(false);
      expect(await h.bus.heartbeats.claimCleanup(otherDead, 30)).toBe(true);
    });

    it('a node that beats again (its next life is back) cannot be claimed, and nothing is left held', async () => {
      const node = unique('node');
      await h.bus.heartbeats.beat(node, 1);
      await vi.waitFor(
        async () => {
          expect(await h.bus.heartbeats.expired()).toContain(node);
        },
        { timeout: 5_000, interval: 100 },
      );
      await h.bus.heartbeats.beat(node, 60);
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBe(false);
      expect(await h.bus.heartbeats.claimOwnCleanup(node, 30)).toBe(true);
    });

    it('a node’s claim on its own clean-up shuts survivors out until it is released', async () => {
      const node = unique('node');
      expect(await h.bus.heartbeats.claimOwnCleanup(node, 30)).toBe(true);
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBe(false);
      expect(await h.bus.heartbeats.claimOwnCleanup(node, 30)).toBe(false);
      await h.bus.heartbeats.releaseCleanup(node);
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBe(true);
    });

    it('a clean-up claim lapses after its time', async () => {
      const dead = unique('dead');
      expect(await h.bus.heartbeats.claimCleanup(dead, 1)).toBe(true);
      expect(await h.bus.heartbeats.claimCleanup(dead, 1)).toBe(false);
      await vi.waitFor(
        async () => {
          expect(await h.bus.heartbeats.claimCleanup(dead, 1)).toBe(true);
        },
        { timeout: 5_000, interval: 100 },
      );
    });
  });

}
