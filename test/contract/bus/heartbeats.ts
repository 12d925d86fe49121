import { describe, expect, it, vi } from 'vitest';
import { range, unique, useBus, type OpenBus } from './harness.js';

/** The heartbeats port of the Bus contract. */
export function describeHeartbeatsContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: heartbeats`, () => {
    const h = useBus(open);
    const untilExpired = async (node: string): Promise<void> => {
      await vi.waitFor(
        async () => {
          expect(await h.bus.heartbeats.expired()).toContain(node);
        },
        { timeout: 5_000, interval: 100 },
      );
    };
    it('a node whose heartbeat lapsed is expired; one still beating is not', async () => {
      const [lapsing, alive, never] = [unique('lapsing'), unique('alive'), unique('never')];
      await h.bus.heartbeats.beat(lapsing, 1);
      await h.bus.heartbeats.beat(alive, 60);
      expect(await h.bus.heartbeats.expired()).not.toContain(lapsing);
      await untilExpired(lapsing);
      const expired = await h.bus.heartbeats.expired();
      expect(expired).not.toContain(alive);
      expect(expired).not.toContain(never);
    });

    it('a new beat brings an expired node back', async () => {
      const node = unique('node');
      await h.bus.heartbeats.beat(node, 1);
      await untilExpired(node);
      await h.bus.heartbeats.beat(node, 60);
      expect(await h.bus.heartbeats.expired()).not.toContain(node);
    });

    it('a forgotten node is no longer reported expired', async () => {
      const node = unique('node');
      await h.bus.heartbeats.beat(node, 1);
      await untilExpired(node);
      await h.bus.heartbeats.forget(node);
      expect(await h.bus.heartbeats.expired()).not.toContain(node);
    });

    it('exactly one of the survivors claims the clean-up of a dead node', async () => {
      const [dead, otherDead] = [unique('dead'), unique('dead')];
      const claims = await Promise.all(range(1, 8).map(() => h.bus.heartbeats.claimCleanup(dead, 30)));
      expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
      expect(await h.bus.heartbeats.claimCleanup(dead, 30)).toBeUndefined();
      expect(await h.bus.heartbeats.claimCleanup(otherDead, 30)).toBeTypeOf('string');
    });

    it('a node that beats again (its next life is back) cannot be claimed, and nothing is left held', async () => {
      const node = unique('node');
      await h.bus.heartbeats.beat(node, 1);
      await untilExpired(node);
      await h.bus.heartbeats.beat(node, 60);
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBeUndefined();
      expect(await h.bus.heartbeats.claimOwnCleanup(node, 30)).toBeTypeOf('string');
    });

    it('a node’s claim on its own clean-up shuts survivors out until its holder releases it', async () => {
      const node = unique('node');
      const own = await h.bus.heartbeats.claimOwnCleanup(node, 30);
      if (own === undefined) throw new Error('the first claim failed');
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBeUndefined();
      expect(await h.bus.heartbeats.claimOwnCleanup(node, 30)).toBeUndefined();
      // Only the holder's token gives it back.
      await h.bus.heartbeats.releaseCleanup(node, 'not-the-token');
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBeUndefined();
      await h.bus.heartbeats.releaseCleanup(node, own);
      expect(await h.bus.heartbeats.claimCleanup(node, 30)).toBeTypeOf('string');
    });

    it('a survivor keeps its claim while it holds it and the node stays away, and not once the node beats again', async () => {
      const node = unique('node');
      const claim = await h.bus.heartbeats.claimCleanup(node, 30);
      if (claim === undefined) throw new Error('the claim failed');
      expect(await h.bus.heartbeats.keepCleanup(node, claim, 30)).toBe(true);
      expect(await h.bus.heartbeats.keepCleanup(node, 'not-the-token', 30)).toBe(false);
      await h.bus.heartbeats.beat(node, 60);
      expect(await h.bus.heartbeats.keepCleanup(node, claim, 30)).toBe(false);
    });

    it('a clean-up claim lapses after its time, and its old token neither renews nor releases the next one', async () => {
      const dead = unique('dead');
      const first = await h.bus.heartbeats.claimCleanup(dead, 1);
      if (first === undefined) throw new Error('the first claim failed');
      expect(await h.bus.heartbeats.claimCleanup(dead, 1)).toBeUndefined();
      let second: string | undefined;
      await vi.waitFor(
        async () => {
          second = await h.bus.heartbeats.claimCleanup(dead, 30);
          expect(second).toBeTypeOf('string');
        },
        { timeout: 5_000, interval: 100 },
      );
      expect(await h.bus.heartbeats.keepCleanup(dead, first, 30)).toBe(false);
      await h.bus.heartbeats.releaseCleanup(dead, first);
      expect(await h.bus.heartbeats.claimCleanup(dead, 30)).toBeUndefined();
    });
  });

}
