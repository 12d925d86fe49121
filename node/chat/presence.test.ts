import { describe, expect, it } from 'vitest';
import type { PresenceChannel, PresenceHandler } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory/bus.js';
import type { PresenceStatus, ServerFrame } from '../protocol/frames.js';
import { EncodedFrame, type ClientConnection, type OutgoingFrame } from './local-sockets.js';
import { PresenceHub } from './presence.js';

/** A socket that records what it heard: replies and events, in order. */
function watcher(user: string): ClientConnection & { heard: ServerFrame[] } {
  const heard: ServerFrame[] = [];
  return {
    user,
    session: `${user}-1`,
    heard,
    send(frame: OutgoingFrame) {
      heard.push(frame instanceof EncodedFrame ? frame.frame : frame);
    },
    close() {},
  };
}

/** Watches as the protocol's `presence.watch` does: the reply goes to the socket, ahead of any event. */
async function watch(hub: PresenceHub, socket: ReturnType<typeof watcher>, users: string[]): Promise<Record<string, PresenceStatus>> {
  let answer: Record<string, PresenceStatus> | undefined;
  await hub.watch(socket, users, (statuses) => {
    answer = statuses;
    socket.send({ type: 'presence', ref: 'w', users: statuses });
  });
  if (answer === undefined) throw new Error('no reply');
  return answer;
}

/** The memory bus, but a subscription completes only when the test says (a Redis SUBSCRIBE's round trip). */
class SlowSubscriptions extends MemoryBus {
  private readonly waiting: (() => void)[] = [];

  override async presence(handler: PresenceHandler): Promise<PresenceChannel> {
    const channel = await super.presence(handler);
    return {
      ...channel,
      follow: (users) => {
        const held = new Promise<void>((resolve) => this.waiting.push(resolve));
        return channel.follow(users).then(() => held);
      },
    };
  }

  /** Completes the subscriptions asked for so far. */
  subscribed(): void {
    for (const complete of this.waiting.splice(0)) complete();
  }
}

const events = (socket: ReturnType<typeof watcher>): ServerFrame[] => socket.heard.filter((frame) => !('ref' in frame));

describe('PresenceHub', () => {
  it('tells a watcher of changes only: not an announcement that repeats what the watch reply or an earlier event said', async () => {
    const bus = new MemoryBus();
    const hub = new PresenceHub(bus);
    await hub.start();
    await bus.routes.addSession({ user: 'carol', node: 'n1', session: 's1' });
    const [alice, bob] = [watcher('alice'), watcher('bob')];
    expect(await watch(hub, alice, ['carol'])).toEqual({ carol: 'online' });

    // Carol's connect, announced before alice's watch read the routes, arrives after it.
    await hub.announce('carol', 'online');
    expect(events(alice)).toEqual([]);
    await hub.announce('carol', 'offline');
    await hub.announce('carol', 'offline');
    expect(await watch(hub, bob, ['carol'])).toEqual({ carol: 'online' });
    await hub.announce('carol', 'online');
    expect(events(alice)).toEqual([
      { type: 'presence', user: 'carol', status: 'offline' },
      { type: 'presence', user: 'carol', status: 'online' },
    ]);
    // Bob's reply said online (the routes still hold carol's session): the same again is no change to him.
    expect(events(bob)).toEqual([]);
  });

  it('compares events with the latest reply a watcher had, and tells it nothing of users it no longer watches', async () => {
    const bus = new MemoryBus();
    const hub = new PresenceHub(bus);
    await hub.start();
    const alice = watcher('alice');
    expect(await watch(hub, alice, ['carol'])).toEqual({ carol: 'offline' });
    await hub.announce('carol', 'online');
    expect(await watch(hub, alice, ['carol', 'dave'])).toEqual({ carol: 'offline', dave: 'offline' });
    await hub.announce('carol', 'offline');
    await hub.announce('dave', 'online');
    await watch(hub, alice, ['dave']);
    await hub.announce('carol', 'online');
    expect(events(alice)).toEqual([
      { type: 'presence', user: 'carol', status: 'online' },
      { type: 'presence', user: 'dave', status: 'online' },
    ]);
  });

  it('holds a change heard while the reply is due until after the reply, and drops at once a user no longer watched', async () => {
    const bus = new SlowSubscriptions();
    const hub = new PresenceHub(bus);
    await hub.start();
    const alice = watcher('alice');
    const first = watch(hub, alice, ['carol']);
    bus.subscribed();
    await first;
    // Alice swaps carol for dave; dave's subscription is slow, and both change meanwhile.
    const second = watch(hub, alice, ['dave']);
    await hub.announce('carol', 'online');
    await hub.announce('dave', 'online');
    expect(alice.heard).toHaveLength(1);
    bus.subscribed();
    expect(await second).toEqual({ dave: 'offline' });
    expect(alice.heard.slice(1)).toEqual([
      { type: 'presence', ref: 'w', users: { dave: 'offline' } },
      { type: 'presence', user: 'dave', status: 'online' },
    ]);
    // Carol was not put back in alice's list: watching her again follows her again.
    const third = watch(hub, alice, ['carol', 'dave']);
    bus.subscribed();
    await third;
    await hub.announce('carol', 'online');
    expect(events(alice).at(-1)).toEqual({ type: 'presence', user: 'carol', status: 'online' });
  });

  it('answers a second watcher of a user only once the node follows that user', async () => {
    const bus = new SlowSubscriptions();
    const hub = new PresenceHub(bus);
    await hub.start();
    const [alice, bob] = [watcher('alice'), watcher('bob')];
    const first = watch(hub, alice, ['carol']);
    let bobAnswered = false;
    const second = watch(hub, bob, ['carol']).then(() => (bobAnswered = true));
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(bobAnswered).toBe(false);
    bus.subscribed();
    await Promise.all([first, second]);
    expect(bobAnswered).toBe(true);
  });
});
