import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory/bus.js';
import type { ServerFrame } from '../protocol/frames.js';
import { EncodedFrame, type ClientConnection, type OutgoingFrame } from './local-sockets.js';
import { PresenceHub } from './presence.js';

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

describe('PresenceHub', () => {
  it('tells a watcher of changes only: not an announcement that repeats what the watch reply or an earlier event said', async () => {
    const bus = new MemoryBus();
    const hub = new PresenceHub(bus);
    await hub.start();
    await bus.routes.addSession({ user: 'carol', node: 'n1', session: 's1' });
    const [alice, bob] = [watcher('alice'), watcher('bob')];
    expect(await hub.watch(alice, ['carol'])).toEqual({ carol: 'online' });

    // Carol's connect, announced before alice's watch read the routes, arrives after it.
    await hub.announce('carol', 'online');
    expect(alice.heard).toEqual([]);
    await hub.announce('carol', 'offline');
    await hub.announce('carol', 'offline');
    expect(await hub.watch(bob, ['carol'])).toEqual({ carol: 'online' });
    await hub.announce('carol', 'online');
    expect(alice.heard).toEqual([
      { type: 'presence', user: 'carol', status: 'offline' },
      { type: 'presence', user: 'carol', status: 'online' },
    ]);
    // Bob's reply said online (the routes still hold carol's session): the same again is no change to him.
    expect(bob.heard).toEqual([]);
  });

  it('compares events with the latest reply a watcher had, and tells it nothing of users it no longer watches', async () => {
    const bus = new MemoryBus();
    const hub = new PresenceHub(bus);
    await hub.start();
    const alice = watcher('alice');
    expect(await hub.watch(alice, ['carol'])).toEqual({ carol: 'offline' });
    await hub.announce('carol', 'online');
    expect(await hub.watch(alice, ['carol', 'dave'])).toEqual({ carol: 'offline', dave: 'offline' });
    await hub.announce('carol', 'offline');
    await hub.announce('dave', 'online');
    await hub.watch(alice, ['dave']);
    await hub.announce('carol', 'online');
    expect(alice.heard).toEqual([
      { type: 'presence', user: 'carol', status: 'online' },
      { type: 'presence', user: 'dave', status: 'online' },
    ]);
  });
});
