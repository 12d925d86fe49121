import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import type { PresenceHandler } from '../../../node/bus/bus.js';
import type { PresenceStatus } from '../../../node/protocol/frames.js';
import { QUIET_MS, unique, useBus, WAIT, type OpenBus } from './harness.js';

/** The presence port of the Bus contract. */
export function describePresenceContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: presence`, () => {
    const h = useBus(open);
    type Change = [string, PresenceStatus];

    function recorder(): { changes: Change[]; handler: PresenceHandler } {
      const changes: Change[] = [];
      return { changes, handler: (user, status) => changes.push([user, status]) };
    }

    it('delivers the changes of followed users', async () => {
      const alice = unique('alice');
      const bob = unique('bob');
      const { changes, handler } = recorder();
      const presence = await h.bus.presence(handler);
      await presence.follow([alice, bob]);
      await presence.announce(alice, 'online');
      await presence.announce(bob, 'online');
      await presence.announce(alice, 'offline');
      await vi.waitFor(() => {
        expect(changes).toHaveLength(3);
      }, WAIT);
      expect(changes).toEqual([
        [alice, 'online'],
        [bob, 'online'],
        [alice, 'offline'],
      ]);
    });

    it('does not deliver the changes of users nobody followed', async () => {
      const followedUser = unique('followed');
      const stranger = unique('stranger');
      const { changes, handler } = recorder();
      const presence = await h.bus.presence(handler);
      await presence.follow([followedUser]);
      await presence.announce(stranger, 'online');
      await presence.announce(followedUser, 'online');
      await vi.waitFor(() => {
        expect(changes).toContainEqual([followedUser, 'online']);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(changes).toEqual([[followedUser, 'online']]);
    });

    it('stops delivering a user after unfollow', async () => {
      const alice = unique('alice');
      const bob = unique('bob');
      const { changes, handler } = recorder();
      const presence = await h.bus.presence(handler);
      await presence.follow([alice, bob]);
      await presence.unfollow([alice]);
      await presence.announce(alice, 'online');
      await presence.announce(bob, 'online');
      await vi.waitFor(() => {
        expect(changes).toContainEqual([bob, 'online']);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(changes).toEqual([[bob, 'online']]);
    });

    it('delivers a change once to a channel that followed the user twice', async () => {
      const alice = unique('alice');
      const { changes, handler } = recorder();
      const presence = await h.bus.presence(handler);
      await presence.follow([alice]);
      await presence.follow([alice, alice]);
      await presence.announce(alice, 'online');
      await vi.waitFor(() => {
        expect(changes).toHaveLength(1);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(changes).toEqual([[alice, 'online']]);
    });

    it('delivers to every channel following the user, and unfollowing in one leaves the other', async () => {
      const alice = unique('alice');
      const first = recorder();
      const second = recorder();
      const channelA = await h.bus.presence(first.handler);
      const channelB = await h.bus.presence(second.handler);
      await channelA.follow([alice]);
      await channelB.follow([alice]);
      await channelA.announce(alice, 'online');
      await vi.waitFor(() => {
        expect(first.changes).toEqual([[alice, 'online']]);
        expect(second.changes).toEqual([[alice, 'online']]);
      }, WAIT);

      await channelA.unfollow([alice]);
      await channelB.announce(alice, 'offline');
      await vi.waitFor(() => {
        expect(second.changes).toEqual([
          [alice, 'online'],
          [alice, 'offline'],
        ]);
      }, WAIT);
      await sleep(QUIET_MS);
      expect(first.changes).toEqual([[alice, 'online']]);
    });

    it('unfollowing a user never followed is harmless', async () => {
      const alice = unique('alice');
      const { changes, handler } = recorder();
      const presence = await h.bus.presence(handler);
      await presence.unfollow([unique('nobody')]);
      await presence.follow([alice]);
      await presence.announce(alice, 'offline');
      await vi.waitFor(() => {
        expect(changes).toEqual([[alice, 'offline']]);
      }, WAIT);
    });
  });

}
