import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bus, Envelope, InFlightEntry, PresenceHandler, Signal, Unsubscribe } from '../../node/bus/bus.js';
import type { PresenceStatus } from '../../node/protocol/frames.js';

/** An open bus and how to close it, as each implementation's test file provides it. */
export interface OpenBus {
  bus: Bus;
  close(): Promise<void>;
}

/** Long enough for any bus to deliver something that is going to arrive, for "nothing arrives" checks. */
const QUIET_MS = 300;
const WAIT = { timeout: 5_000, interval: 20 };

/** A name no other test (or earlier run on the same server) uses. */
function unique(base: string): string {
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
async function publishRange(bus: Bus, node: string, from: number, to: number): Promise<void> {
  for (const seq of range(from, to)) await bus.inbox.publish(node, messageEnvelope(seq));
}

/**
 * The behaviour every `Bus` must have, whatever carries it (Redis, in-process). Several
 * nodes are played through one bus (each test uses fresh node, user and group names), so
 * the suite runs against implementations that share nothing between two `open()` calls.
 */
export function describeBusContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name} honours the Bus contract`, () => {
    let opened: OpenBus;
    let bus: Bus;
    const cleanups: Unsubscribe[] = [];

    beforeEach(async () => {
      opened = await open();
      bus = opened.bus;
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await opened.close();
    });

    /** Consumes `node`'s inbox into the returned list (of sequence numbers), stopped after the test. */
    async function collect(node: string, handler?: (envelope: Envelope) => Promise<void>): Promise<number[]> {
      const seen: number[] = [];
      cleanups.push(
        await bus.inbox.consume(node, async (envelope) => {
          seen.push(seqOf(envelope));
          await handler?.(envelope);
        }),
      );
      return seen;
    }

    describe('inbox', () => {
      it('delivers every envelope published to a node, in publish order', async () => {
        const node = unique('node');
        const seen = await collect(node);
        await publishRange(bus, node, 1, 50);
        await vi.waitFor(() => {
          expect(seen).toHaveLength(50);
        }, WAIT);
        expect(seen).toEqual(range(1, 50));
      });

      it('hands over envelopes intact', async () => {
        const node = unique('node');
        const received: Envelope[] = [];
        cleanups.push(
          await bus.inbox.consume(node, (envelope) => {
            received.push(envelope);
            return Promise.resolve();
          }),
        );
        const membership: Envelope = { kind: 'membership', user: 'carol', group: 'team', joined: true };
        const groupMessage = messageEnvelope(7, null);
        await bus.inbox.publish(node, messageEnvelope(1, ['bob', 'dave']));
        await bus.inbox.publish(node, membership);
        await bus.inbox.publish(node, groupMessage);
        await vi.waitFor(() => {
          expect(received).toHaveLength(3);
        }, WAIT);
        expect(received).toEqual([messageEnvelope(1, ['bob', 'dave']), membership, groupMessage]);
      });

      it('delivers an envelope only to the node it was published to', async () => {
        const nodeA = unique('node-a');
        const nodeB = unique('node-b');
        const nodeC = unique('node-c');
        const seenA = await collect(nodeA);
        const seenB = await collect(nodeB);
        const seenC = await collect(nodeC);
        await bus.inbox.publish(nodeA, messageEnvelope(1));
        await bus.inbox.publish(nodeB, messageEnvelope(2));
        await bus.inbox.publish(nodeA, messageEnvelope(3));
        await bus.inbox.publish(nodeB, messageEnvelope(4));
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
        await publishRange(bus, node, 1, 5);
        const seen = await collect(node);
        await publishRange(bus, node, 6, 8);
        await vi.waitFor(() => {
          expect(seen).toHaveLength(8);
        }, WAIT);
        expect(seen).toEqual(range(1, 8));
      });

      it('awaits the handler: the next envelope waits until the previous one is processed', async () => {
        const node = unique('node');
        let running = 0;
        let mostAtOnce = 0;
        const seen = await collect(node, async () => {
          running += 1;
          mostAtOnce = Math.max(mostAtOnce, running);
          await sleep(10);
          running -= 1;
        });
        await publishRange(bus, node, 1, 10);
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
        const stop = await bus.inbox.consume(node, handler);
        await publishRange(bus, node, 1, 5);
        await vi.waitFor(() => {
          expect(seen).toHaveLength(5);
        }, WAIT);
        await stop();

        await publishRange(bus, node, 6, 10);
        await sleep(QUIET_MS);
        expect(seen).toEqual(range(1, 5));

        cleanups.push(await bus.inbox.consume(node, handler));
        await publishRange(bus, node, 11, 12);
        await vi.waitFor(() => {
          expect(seen).toHaveLength(12);
        }, WAIT);
        await sleep(QUIET_MS);
        expect(seen).toEqual(range(1, 12));
      });

      it('stops at unsubscribe in the middle of a backlog, and the next consumer carries on exactly', async () => {
        const node = unique('node');
        await publishRange(bus, node, 1, 30);
        const seen: number[] = [];
        let reachedTen: () => void = () => undefined;
        const atTen = new Promise<void>((resolve) => {
          reachedTen = resolve;
        });
        let release: () => void = () => undefined;
        const released = new Promise<void>((resolve) => {
          release = resolve;
        });
        const stop = await bus.inbox.consume(node, async (envelope) => {
          seen.push(seqOf(envelope));
          if (seen.length === 10) {
            reachedTen();
            await released;
          }
        });
        await atTen;
        const stopping = stop();
        release();
        await stopping;
        const processed = seen.length;
        expect(processed).toBeGreaterThanOrEqual(10);
        expect(seen).toEqual(range(1, processed));
        await sleep(QUIET_MS);
        expect(seen).toHaveLength(processed);

        cleanups.push(
          await bus.inbox.consume(node, (envelope) => {
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
        const seen = await collect(node, (envelope) => {
          if (seqOf(envelope) === 2) return Promise.reject(new Error('handler failed on purpose'));
          return Promise.resolve();
        });
        await publishRange(bus, node, 1, 4);
        await vi.waitFor(() => {
          expect(seen).toEqual([1, 2, 3, 4]);
        }, WAIT);
      });

      it('delivers nothing more after unsubscribe', async () => {
        const node = unique('node');
        const seen: number[] = [];
        const stop = await bus.inbox.consume(node, (envelope) => {
          seen.push(seqOf(envelope));
          return Promise.resolve();
        });
        await bus.inbox.publish(node, messageEnvelope(1));
        await vi.waitFor(() => {
          expect(seen).toEqual([1]);
        }, WAIT);
        await stop();
        await bus.inbox.publish(node, messageEnvelope(2));
        await sleep(QUIET_MS);
        expect(seen).toEqual([1]);
      });
    });

    describe('signals', () => {
      function typing(from: string, users: string[]): Signal {
        return { kind: 'typing', from, conv: `dm:${from}:${users[0] ?? 'x'}`, users };
      }

      it('reach the node they are sent to, and only that node', async () => {
        const nodeA = unique('node-a');
        const nodeB = unique('node-b');
        const atA: Signal[] = [];
        const atB: Signal[] = [];
        cleanups.push(await bus.signals.subscribe(nodeA, (signal) => atA.push(signal)));
        cleanups.push(await bus.signals.subscribe(nodeB, (signal) => atB.push(signal)));
        const toA = typing('alice', ['bob']);
        const toB = typing('carol', ['dave', 'erin']);
        await bus.signals.send(nodeA, toA);
        await bus.signals.send(nodeB, toB);
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
        cleanups.push(await bus.signals.subscribe(node, (signal) => received.push(signal)));
        const groupTyping: Signal = { kind: 'typing', from: 'alice', conv: 'g:team' };
        await bus.signals.send(node, groupTyping);
        await vi.waitFor(() => {
          expect(received).toEqual([groupTyping]);
        }, WAIT);
      });

      it('arrive as soon as onSignal has resolved', async () => {
        const node = unique('node');
        const received: Signal[] = [];
        cleanups.push(await bus.signals.subscribe(node, (signal) => received.push(signal)));
        await bus.signals.send(node, typing('alice', ['bob']));
        await vi.waitFor(() => {
          expect(received).toHaveLength(1);
        }, WAIT);
      });

      it('stop arriving after unsubscribe', async () => {
        const node = unique('node');
        const received: Signal[] = [];
        const stop = await bus.signals.subscribe(node, (signal) => received.push(signal));
        await bus.signals.send(node, typing('alice', ['bob']));
        await vi.waitFor(() => {
          expect(received).toHaveLength(1);
        }, WAIT);
        await stop();
        await bus.signals.send(node, typing('alice', ['bob']));
        await sleep(QUIET_MS);
        expect(received).toHaveLength(1);
      });

      it('are not kept for a node that is not listening', async () => {
        const node = unique('node');
        await bus.signals.send(node, typing('alice', ['bob']));
        const received: Signal[] = [];
        cleanups.push(await bus.signals.subscribe(node, (signal) => received.push(signal)));
        await sleep(QUIET_MS);
        expect(received).toEqual([]);
      });
    });

    describe('presence', () => {
      type Change = [string, PresenceStatus];

      function recorder(): { changes: Change[]; handler: PresenceHandler } {
        const changes: Change[] = [];
        return { changes, handler: (user, status) => changes.push([user, status]) };
      }

      it('delivers the changes of followed users', async () => {
        const alice = unique('alice');
        const bob = unique('bob');
        const { changes, handler } = recorder();
        const presence = await bus.presence(handler);
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
        const presence = await bus.presence(handler);
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
        const presence = await bus.presence(handler);
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
        const presence = await bus.presence(handler);
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
        const channelA = await bus.presence(first.handler);
        const channelB = await bus.presence(second.handler);
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
        const presence = await bus.presence(handler);
        await presence.unfollow([unique('nobody')]);
        await presence.follow([alice]);
        await presence.announce(alice, 'offline');
        await vi.waitFor(() => {
          expect(changes).toEqual([[alice, 'offline']]);
        }, WAIT);
      });
    });

    describe('route cache', () => {
      it('says when a user gets a first socket and loses the last one, across nodes', async () => {
        const user = unique('user');
        const [nodeA, nodeB] = [unique('node-a'), unique('node-b')];
        expect(await bus.routes.addSession({ user, node: nodeA, session: 's1' })).toBe(true);
        expect(await bus.routes.addSession({ user, node: nodeA, session: 's2' })).toBe(false);
        expect(await bus.routes.addSession({ user, node: nodeB, session: 's3' })).toBe(false);

        expect(await bus.routes.removeSession({ user, node: nodeA, session: 's1' })).toBe(false);
        expect(await bus.routes.removeSession({ user, node: nodeB, session: 's3' })).toBe(false);
        expect(await bus.routes.removeSession({ user, node: nodeA, session: 's2' })).toBe(true);

        expect(await bus.routes.addSession({ user, node: nodeB, session: 's4' })).toBe(true);
      });

      it('counts a session recorded twice once', async () => {
        const user = unique('user');
        const node = unique('node');
        expect(await bus.routes.addSession({ user, node, session: 's1' })).toBe(true);
        expect(await bus.routes.addSession({ user, node, session: 's1' })).toBe(false);
        expect(await bus.routes.sessionsOf(user)).toEqual([{ user, node, session: 's1' }]);
        expect(await bus.routes.removeSession({ user, node, session: 's1' })).toBe(true);
      });

      it('removing a session it does not know reports no one going offline', async () => {
        const user = unique('user');
        const node = unique('node');
        expect(await bus.routes.removeSession({ user, node, session: 'never-added' })).toBe(false);
        await bus.routes.addSession({ user, node, session: 's1' });
        expect(await bus.routes.removeSession({ user, node, session: 's1' })).toBe(true);
        expect(await bus.routes.removeSession({ user, node, session: 's1' })).toBe(false);
      });

      it('decides first and last sessions atomically under concurrent calls', async () => {
        const user = unique('user');
        const node = unique('node');
        const sessions = range(1, 20).map((n) => ({ user, node, session: `s${n}` }));
        const firsts = await Promise.all(sessions.map((session) => bus.routes.addSession(session)));
        expect(firsts.filter(Boolean)).toHaveLength(1);
        const lasts = await Promise.all(sessions.map((session) => bus.routes.removeSession(session)));
        expect(lasts.filter(Boolean)).toHaveLength(1);
      });

      it('lists a user’s sessions on every node', async () => {
        const user = unique('user');
        const [nodeA, nodeB] = [unique('node-a'), unique('node-b')];
        expect(await bus.routes.sessionsOf(user)).toEqual([]);
        await bus.routes.addSession({ user, node: nodeA, session: 's1' });
        await bus.routes.addSession({ user, node: nodeB, session: 's2' });
        await bus.routes.addSession({ user: unique('other'), node: nodeA, session: 's3' });
        const sessions = await bus.routes.sessionsOf(user);
        expect(sessions.sort((a, b) => a.session.localeCompare(b.session))).toEqual([
          { user, node: nodeA, session: 's1' },
          { user, node: nodeB, session: 's2' },
        ]);
        await bus.routes.removeSession({ user, node: nodeA, session: 's1' });
        expect(await bus.routes.sessionsOf(user)).toEqual([{ user, node: nodeB, session: 's2' }]);
      });

      it('tells which of many users are online', async () => {
        const [online, alsoOnline, offline, gone] = [unique('on'), unique('on2'), unique('off'), unique('gone')];
        const node = unique('node');
        await bus.routes.addSession({ user: online, node, session: 's1' });
        await bus.routes.addSession({ user: alsoOnline, node, session: 's2' });
        await bus.routes.addSession({ user: gone, node, session: 's3' });
        await bus.routes.removeSession({ user: gone, node, session: 's3' });
        expect(await bus.routes.onlineStatus([online, offline, alsoOnline, gone])).toEqual({
          [online]: true,
          [offline]: false,
          [alsoOnline]: true,
          [gone]: false,
        });
        expect(await bus.routes.onlineStatus([])).toEqual({});
      });

      it('keeps the set of nodes hosting members of each group', async () => {
        const [group, otherGroup] = [unique('group'), unique('group')];
        const [nodeA, nodeB] = [unique('node-a'), unique('node-b')];
        expect(await bus.routes.groupNodes(group)).toEqual([]);
        await bus.routes.addGroupNode(group, nodeA);
        await bus.routes.addGroupNode(group, nodeB);
        await bus.routes.addGroupNode(group, nodeA);
        await bus.routes.addGroupNode(otherGroup, nodeB);
        expect((await bus.routes.groupNodes(group)).sort()).toEqual([nodeA, nodeB].sort());
        await bus.routes.removeGroupNode(group, nodeA);
        expect(await bus.routes.groupNodes(group)).toEqual([nodeB]);
        expect(await bus.routes.groupNodes(otherGroup)).toEqual([nodeB]);
        await bus.routes.removeGroupNode(group, nodeB);
        expect(await bus.routes.groupNodes(group)).toEqual([]);
      });

      it('forgets a dead node: its sessions and groups go, and the users left with no socket are named', async () => {
        const [dead, live] = [unique('dead'), unique('live')];
        const [onlyDead, both, onlyLive, twiceDead] = [unique('u1'), unique('u2'), unique('u3'), unique('u4')];
        const [shared, deadOnly] = [unique('group'), unique('group')];
        await bus.routes.addSession({ user: onlyDead, node: dead, session: 'a' });
        await bus.routes.addSession({ user: both, node: dead, session: 'b' });
        await bus.routes.addSession({ user: both, node: live, session: 'c' });
        await bus.routes.addSession({ user: onlyLive, node: live, session: 'd' });
        await bus.routes.addSession({ user: twiceDead, node: dead, session: 'e' });
        await bus.routes.addSession({ user: twiceDead, node: dead, session: 'f' });
        await bus.routes.addGroupNode(shared, dead);
        await bus.routes.addGroupNode(shared, live);
        await bus.routes.addGroupNode(deadOnly, dead);

        expect((await bus.routes.removeNode(dead)).sort()).toEqual([onlyDead, twiceDead].sort());

        expect(await bus.routes.sessionsOf(onlyDead)).toEqual([]);
        expect(await bus.routes.sessionsOf(twiceDead)).toEqual([]);
        expect(await bus.routes.sessionsOf(both)).toEqual([{ user: both, node: live, session: 'c' }]);
        expect(await bus.routes.sessionsOf(onlyLive)).toEqual([{ user: onlyLive, node: live, session: 'd' }]);
        expect(await bus.routes.onlineStatus([onlyDead, both, onlyLive, twiceDead])).toEqual({
          [onlyDead]: false,
          [both]: true,
          [onlyLive]: true,
          [twiceDead]: false,
        });
        expect(await bus.routes.groupNodes(shared)).toEqual([live]);
        expect(await bus.routes.groupNodes(deadOnly)).toEqual([]);

        expect(await bus.routes.removeNode(dead)).toEqual([]);
        expect(await bus.routes.removeSession({ user: both, node: live, session: 'c' })).toBe(true);
      });

      it('forgetting a node that hosted nothing names no one', async () => {
        expect(await bus.routes.removeNode(unique('empty'))).toEqual([]);
      });

      it('a node that comes back after being forgotten starts from nothing', async () => {
        const node = unique('node');
        const user = unique('user');
        const group = unique('group');
        await bus.routes.addSession({ user, node, session: 's1' });
        await bus.routes.addGroupNode(group, node);
        expect(await bus.routes.removeNode(node)).toEqual([user]);
        expect(await bus.routes.addSession({ user, node, session: 's2' })).toBe(true);
        await bus.routes.addGroupNode(group, node);
        expect(await bus.routes.groupNodes(group)).toEqual([node]);
        expect(await bus.routes.removeNode(node)).toEqual([user]);
        expect(await bus.routes.groupNodes(group)).toEqual([]);
      });
    });

    describe('idempotency keys', () => {
      const ack = { id: '01JABCDEFGHJKMNPQRSTVWXYZ0', ts: 1_700_000_000_123, conv: 'dm:alice:bob' };

      it('a first claim wins, a second sees it pending, then sees the first ack once completed', async () => {
        const [user, key] = [unique('user'), unique('key')];
        expect(await bus.idempotency.claim(user, key)).toBeUndefined();
        expect(await bus.idempotency.claim(user, key)).toBe('pending');
        await bus.idempotency.complete(user, key, ack);
        expect(await bus.idempotency.claim(user, key)).toEqual(ack);
        expect(await bus.idempotency.claim(user, key)).toEqual(ack);
      });

      it('only one of many concurrent claims wins', async () => {
        const [user, key] = [unique('user'), unique('key')];
        const answers = await Promise.all(range(1, 10).map(() => bus.idempotency.claim(user, key)));
        expect(answers.filter((answer) => answer === undefined)).toHaveLength(1);
        expect(answers.filter((answer) => answer === 'pending')).toHaveLength(9);
      });

      it('a released claim can be claimed again', async () => {
        const [user, key] = [unique('user'), unique('key')];
        expect(await bus.idempotency.claim(user, key)).toBeUndefined();
        await bus.idempotency.release(user, key);
        expect(await bus.idempotency.claim(user, key)).toBeUndefined();
        expect(await bus.idempotency.claim(user, key)).toBe('pending');
      });

      it('keys belong to one user: the same key of another user is free', async () => {
        const [alice, bob, key] = [unique('alice'), unique('bob'), unique('key')];
        expect(await bus.idempotency.claim(alice, key)).toBeUndefined();
        await bus.idempotency.complete(alice, key, ack);
        expect(await bus.idempotency.claim(bob, key)).toBeUndefined();
        expect(await bus.idempotency.claim(alice, unique('key'))).toBeUndefined();
        expect(await bus.idempotency.claim(alice, key)).toEqual(ack);
      });
    });

    describe('heartbeats', () => {
      it('a node whose heartbeat lapsed is expired; one still beating is not', async () => {
        const [lapsing, alive, never] = [unique('lapsing'), unique('alive'), unique('never')];
        await bus.heartbeats.beat(lapsing, 1);
        await bus.heartbeats.beat(alive, 60);
        expect(await bus.heartbeats.expired()).not.toContain(lapsing);
        await vi.waitFor(
          async () => {
            expect(await bus.heartbeats.expired()).toContain(lapsing);
          },
          { timeout: 5_000, interval: 100 },
        );
        const expired = await bus.heartbeats.expired();
        expect(expired).not.toContain(alive);
        expect(expired).not.toContain(never);
      });

      it('a new beat brings an expired node back', async () => {
        const node = unique('node');
        await bus.heartbeats.beat(node, 1);
        await vi.waitFor(
          async () => {
            expect(await bus.heartbeats.expired()).toContain(node);
          },
          { timeout: 5_000, interval: 100 },
        );
        await bus.heartbeats.beat(node, 60);
        expect(await bus.heartbeats.expired()).not.toContain(node);
      });

      it('a forgotten node is no longer reported expired', async () => {
        const node = unique('node');
        await bus.heartbeats.beat(node, 1);
        await vi.waitFor(
          async () => {
            expect(await bus.heartbeats.expired()).toContain(node);
          },
          { timeout: 5_000, interval: 100 },
        );
        await bus.heartbeats.forget(node);
        expect(await bus.heartbeats.expired()).not.toContain(node);
      });

      it('exactly one of the survivors claims the clean-up of a dead node', async () => {
        const [dead, otherDead] = [unique('dead'), unique('dead')];
        const claims = await Promise.all(range(1, 8).map(() => bus.heartbeats.claimCleanup(dead, 30)));
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await bus.heartbeats.claimCleanup(dead, 30)).toBe(false);
        expect(await bus.heartbeats.claimCleanup(otherDead, 30)).toBe(true);
      });

      it('a clean-up claim lapses after its time', async () => {
        const dead = unique('dead');
        expect(await bus.heartbeats.claimCleanup(dead, 1)).toBe(true);
        expect(await bus.heartbeats.claimCleanup(dead, 1)).toBe(false);
        await vi.waitFor(
          async () => {
            expect(await bus.heartbeats.claimCleanup(dead, 1)).toBe(true);
          },
          { timeout: 5_000, interval: 100 },
        );
      });
    });

    describe('progress', () => {
      const entry = (seq: number, exceptSession?: string): InFlightEntry => {
        const envelope = messageEnvelope(seq);
        if (envelope.kind !== 'message') throw new Error('a message envelope');
        return { message: envelope.message, acceptedAt: envelope.acceptedAt, ...(exceptSession === undefined ? {} : { exceptSession }) };
      };

      it('keeps what a node has in flight, intact and oldest first, until it is settled', async () => {
        const node = unique('node');
        await bus.progress.track(node, entry(3));
        await bus.progress.track(node, entry(1, 'session-1'));
        await bus.progress.track(node, entry(2));
        expect(await bus.progress.unsettled(node)).toEqual([entry(1, 'session-1'), entry(2), entry(3)]);
        await bus.progress.exchange(node, '01J00000000000000000000000', [entry(1).message.id, entry(3).message.id]);
        expect(await bus.progress.unsettled(node)).toEqual([entry(2)]);
        expect(await bus.progress.unsettled(unique('node'))).toEqual([]);
      });

      it('an exchange answers what was published before its own write, and later ones see it', async () => {
        const [first, second] = [unique('node'), unique('node')];
        const before = await bus.progress.exchange(first, '01J0000000000000000000000A', []);
        expect(before.has(first)).toBe(false);
        const seen = await bus.progress.exchange(second, '01J0000000000000000000000B', []);
        expect(seen.get(first)).toBe('01J0000000000000000000000A');
        expect(seen.has(second)).toBe(false);
        const again = await bus.progress.exchange(first, '01J0000000000000000000000C', []);
        expect(again.get(first)).toBe('01J0000000000000000000000A');
        expect(again.get(second)).toBe('01J0000000000000000000000B');
      });

      it('forgetting a node removes its watermark and what it had in flight', async () => {
        const [node, other] = [unique('node'), unique('node')];
        await bus.progress.track(node, entry(1));
        await bus.progress.exchange(node, '01J0000000000000000000000A', []);
        await bus.progress.forget(node);
        expect(await bus.progress.unsettled(node)).toEqual([]);
        expect((await bus.progress.exchange(other, '01J0000000000000000000000B', [])).has(node)).toBe(false);
      });
    });

    it('reports itself healthy while its server answers', async () => {
      expect(await bus.isHealthy()).toBe(true);
    });
  });
}
