import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { OpeningGate, type ShedReason } from './opening-gate.js';

/** A client connection that sends nothing; `leave()` is its FIN. */
function connection(): Duplex & { leave: () => void } {
  const stream = new Duplex({
    read: () => undefined,
    write: (_chunk, _encoding, done) => {
      done();
    },
  });
  return Object.assign(stream, { leave: () => stream.push(null) });
}

/** A gate whose opens settle when the test says, recording what it opened, refused and shed. */
function harness(options: { atOnce: number; maxWaiting: number; maxWaitMs: number; congestedAfterMs?: number }) {
  let now = 0;
  const opened: string[] = [];
  const refused: string[] = [];
  const shed: ShedReason[] = [];
  const waitingCounts: number[] = [];
  const finishers = new Map<string, (ok: boolean) => void>();
  const gate = new OpeningGate(
    { congestedAfterMs: 60_000, ...options, clock: () => now },
    { shed: (reason) => shed.push(reason), waiting: (count) => waitingCounts.push(count) },
  );
  const enter = (name: string, stream = connection()) => {
    gate.enter({
      stream,
      open: () => {
        opened.push(name);
        return new Promise((resolve, reject) => {
          finishers.set(name, (ok) => {
            if (ok) resolve(true);
            else reject(new Error('failed'));
          });
        });
      },
      refuse: () => refused.push(name),
    });
    return stream;
  };
  const finish = async (name: string, ok = true) => {
    finishers.get(name)?.(ok);
    // The gate moves on when the open's promise settles: after its reactions have run.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { gate, enter, finish, opened, refused, shed, waitingCounts, advance: (ms: number) => (now += ms) };
}

describe('OpeningGate', () => {
  it('opens a bounded number at once and the rest in arrival order as earlier ones finish', async () => {
    const h = harness({ atOnce: 2, maxWaiting: 10, maxWaitMs: 5_000 });
    for (const name of ['a', 'b', 'c', 'd']) h.enter(name);
    expect(h.opened).toEqual(['a', 'b']);
    expect(h.gate.waitingCount).toBe(2);
    await h.finish('b');
    expect(h.opened).toEqual(['a', 'b', 'c']);
    await h.finish('a', false); // a failed open frees its place too
    expect(h.opened).toEqual(['a', 'b', 'c', 'd']);
    expect(h.gate.waitingCount).toBe(0);
    expect(h.waitingCounts.at(-1)).toBe(0);
    expect(h.refused).toEqual([]);
  });

  it('opens the newest first once the line stands, and refuses those that waited too long', async () => {
    const h = harness({ atOnce: 1, maxWaiting: 10, maxWaitMs: 5_000, congestedAfterMs: 1_000 });
    for (const name of ['a', 'b', 'c', 'd']) h.enter(name);
    h.advance(500);
    await h.finish('a'); // the oldest waited 500 ms: the line moves, in arrival order
    expect(h.opened).toEqual(['a', 'b']);
    h.advance(1_000);
    h.enter('e');
    await h.finish('b'); // the oldest (c) waited 1.5 s: newest first
    expect(h.opened).toEqual(['a', 'b', 'e']);
    h.advance(4_000);
    await h.finish('e'); // c and d waited 5.5 s: refused, not opened
    expect(h.refused).toEqual(['c', 'd']);
    expect(h.shed).toEqual(['waited_too_long', 'waited_too_long']);
    expect(h.gate.waitingCount).toBe(0);
  });

  it('refuses the expired in time even when no open finishes (a store that hangs)', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const h = harness({ atOnce: 1, maxWaiting: 10, maxWaitMs: 5_000 });
      h.enter('a');
      h.enter('b');
      h.advance(5_001);
      expect(h.refused).toEqual([]);
      vi.advanceTimersByTime(500);
      expect(h.refused).toEqual(['b']);
      expect(vi.getTimerCount()).toBe(0); // nobody waits: no timer left behind
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses at once when the queue is full, and queues again once it has room', async () => {
    const h = harness({ atOnce: 1, maxWaiting: 2, maxWaitMs: 5_000 });
    for (const name of ['a', 'b', 'c', 'd']) h.enter(name);
    expect(h.opened).toEqual(['a']);
    expect(h.refused).toEqual(['d']);
    expect(h.shed).toEqual(['queue_full']);
    await h.finish('a');
    h.enter('e');
    expect(h.refused).toEqual(['d']);
    expect(h.gate.waitingCount).toBe(2);
  });

  it('drops a waiting upgrade whose client left, without opening or answering it', async () => {
    const h = harness({ atOnce: 1, maxWaiting: 10, maxWaitMs: 5_000 });
    h.enter('a');
    const leaving = h.enter('b');
    h.enter('c');
    leaving.leave();
    leaving.read(); // a net.Socket emits 'end' on its FIN unread when nothing is buffered; this stand-in needs a read
    await new Promise((resolve) => setImmediate(resolve));
    expect(leaving.destroyed).toBe(true);
    expect(h.shed).toEqual(['client_gone']);
    expect(h.gate.waitingCount).toBe(1);
    await h.finish('a');
    expect(h.opened).toEqual(['a', 'c']);
    expect(h.refused).toEqual([]);
  });

  it('drops an upgrade whose client left before it reached the gate', () => {
    const h = harness({ atOnce: 1, maxWaiting: 10, maxWaitMs: 5_000 });
    const gone = connection();
    gone.destroy();
    h.enter('a', gone);
    expect(h.opened).toEqual([]);
    expect(h.shed).toEqual(['client_gone']);
  });

  it('refuses, when its turn comes, an upgrade that waited longer than the limit', async () => {
    const h = harness({ atOnce: 1, maxWaiting: 10, maxWaitMs: 5_000 });
    h.enter('a');
    h.enter('old');
    h.advance(4_000);
    h.enter('young');
    h.advance(1_500);
    await h.finish('a');
    expect(h.refused).toEqual(['old']);
    expect(h.shed).toEqual(['waited_too_long']);
    expect(h.opened).toEqual(['a', 'young']);
  });

  it('notices a real client that gives up while its upgrade waits (its FIN ends the unread connection)', async () => {
    const shed: ShedReason[] = [];
    const gate = new OpeningGate({ atOnce: 1, maxWaiting: 10, maxWaitMs: 60_000, congestedAfterMs: 60_000, clock: Date.now }, { shed: (reason) => shed.push(reason), waiting: () => undefined });
    const streams: Duplex[] = [];
    // The first upgrade holds the only place; the second waits behind it.
    const server = createServer().on('upgrade', (_request, stream: Duplex) => {
      stream.on('error', () => undefined);
      streams.push(stream);
      gate.enter({ stream, open: () => new Promise(() => undefined), refuse: () => undefined });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const clients = [new WebSocket(url), new WebSocket(url, { handshakeTimeout: 200 })];
    const gaveUp = once(clients[1] as WebSocket, 'error');
    clients[0]?.on('error', () => undefined);
    try {
      await gaveUp;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(shed).toEqual(['client_gone']);
      expect(gate.waitingCount).toBe(0);
      expect(streams[1]?.destroyed).toBe(true);
    } finally {
      for (const client of clients) client.terminate();
      for (const stream of streams) stream.destroy();
      server.close();
    }
  });
});
