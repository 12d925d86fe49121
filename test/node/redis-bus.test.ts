import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Envelope, Signal } from '../../node/bus/bus.js';
import { connectRedisBus, type RedisBus, type RedisBusOptions } from '../../node/bus/redis/bus.js';
import { ENVELOPE_FIELD } from '../../node/bus/redis/codec.js';
import { BusKeys } from '../../node/bus/redis/keys.js';
import { ChatError } from '../../node/protocol/errors.js';
import { messageEnvelope, publishRange, range, seqOf } from '../contract/bus/index.js';
import { freePort } from '../../dev/env/ports.js';
import { testEnvironment } from '../support/env.js';
import { Gate } from '../support/gate.js';
import { ownServers, startRestartableRedis, type OwnServers, type RestartableServer } from '../support/fault-servers.js';

/** Keys of this file's own, so files running side by side on the shared Redis never meet. */
const prefix = `test-${randomUUID()}:`;

/** Why a promise rejected, or undefined when it did not. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}


/** CLIENT LIST, one line per connection. */
async function clientList(admin: Redis): Promise<string[]> {
  return String(await admin.client('LIST')).split('\n');
}

/** The ids of the connections whose CLIENT SETNAME is `name`. */
async function connectionIds(admin: Redis, name: string): Promise<string[]> {
  return (await clientList(admin))
    .filter((line) => line.split(' ').includes(`name=${name}`))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1] ?? '')
    .filter((id) => id !== '');
}

/** Kills the connections named `name`; resolves with how many there were. */
async function killConnections(admin: Redis, name: string): Promise<number> {
  const ids = await connectionIds(admin, name);
  for (const id of ids) await admin.client('KILL', 'ID', id);
  return ids.length;
}

describe('RedisBus on the shared Redis', () => {
  const url = testEnvironment().CHAT_REDIS_URL;
  const buses: RedisBus[] = [];
  let admin: Redis;

  async function openBus(options: RedisBusOptions = {}): Promise<RedisBus> {
    const bus = await connectRedisBus(url, { prefix, ...options });
    buses.push(bus);
    return bus;
  }

  beforeAll(() => {
    admin = new Redis(url, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
  });
  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    admin.disconnect();
  });

  it('two buses with the same prefix reach each other: inboxes, signals, presence and routes', async () => {
    const [sender, receiver] = [await openBus(), await openBus()];
    const node = `node-${randomUUID()}`;
    const envelopes: number[] = [];
    await receiver.inbox.consume(node, (envelope) => {
      envelopes.push(seqOf(envelope));
      return Promise.resolve();
    });
    const signals: Signal[] = [];
    await receiver.signals.subscribe(node, (signal) => signals.push(signal));
    const changes: string[] = [];
    const presence = await receiver.presence((user, status) => changes.push(`${user}:${status}`));
    await presence.follow(['alice']);

    await sender.inbox.publish(node, messageEnvelope(1));
    const typing: Signal = { kind: 'typing', from: 'alice', conv: 'dm:alice:bob', users: ['bob'] };
    await sender.signals.send(node, typing);
    await (await sender.presence(() => undefined)).announce('alice', 'online');
    await sender.routes.addSession({ user: 'alice', node, session: 's1' });

    await vi.waitFor(() => {
      expect(envelopes).toEqual([1]);
      expect(signals).toEqual([typing]);
      expect(changes).toEqual(['alice:online']);
    });
    expect(await receiver.routes.sessionsOf('alice')).toEqual([{ user: 'alice', node, session: 's1' }]);
    expect(await receiver.routes.removeSession({ user: 'alice', node, session: 's1' })).toBe(true);
  });

  it('reports a handler that throws through onError and goes on', async () => {
    const errors: unknown[] = [];
    const bus = await openBus({ onError: (error) => errors.push(error) });
    const node = `node-${randomUUID()}`;
    const seen: number[] = [];
    const failure = new Error('handler failed on purpose');
    await bus.inbox.consume(node, (envelope) => {
      seen.push(seqOf(envelope));
      return seqOf(envelope) === 2 ? Promise.reject(failure) : Promise.resolve();
    });
    for (const seq of range(1, 3)) await bus.inbox.publish(node, messageEnvelope(seq));
    await vi.waitFor(() => {
      expect(seen).toEqual([1, 2, 3]);
    });
    expect(errors).toEqual([failure]);
  });

  it('skips an inbox entry that is not an envelope, reporting it', async () => {
    const errors: unknown[] = [];
    const bus = await openBus({ onError: (error) => errors.push(error) });
    const node = `node-${randomUUID()}`;
    const seen: number[] = [];
    await bus.inbox.consume(node, (envelope) => {
      seen.push(seqOf(envelope));
      return Promise.resolve();
    });
    await admin.xadd(`${prefix}inbox:${node}`, '*', 'e', '{"kind":"nonsense"}');
    await bus.inbox.publish(node, messageEnvelope(1));
    await vi.waitFor(() => {
      expect(seen).toEqual([1]);
    });
    expect(errors).toHaveLength(1);
  });

  it('keeps each inbox trimmed to about its maximum length and expiring', async () => {
    const bus = await openBus({ inboxMaxLength: 100, inboxTtlSeconds: 600 });
    const node = `node-${randomUUID()}`;
    for (const seq of range(1, 1_000)) await bus.inbox.publish(node, messageEnvelope(seq));
    const length = await admin.xlen(`${prefix}inbox:${node}`);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(1_000);
    const ttl = await admin.ttl(`${prefix}inbox:${node}`);
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('deletes processed inbox entries within about a second, and keeps those not processed yet', async () => {
    const bus = await openBus();
    const [reading, away] = [`node-${randomUUID()}`, `node-${randomUUID()}`];
    const seen: number[] = [];
    await bus.inbox.consume(reading, (envelope) => {
      seen.push(seqOf(envelope));
      return Promise.resolve();
    });
    for (const seq of range(1, 20)) {
      await bus.inbox.publish(reading, messageEnvelope(seq));
      await bus.inbox.publish(away, messageEnvelope(seq));
    }
    await vi.waitFor(() => {
      expect(seen).toEqual(range(1, 20));
    });
    await vi.waitFor(
      async () => {
        expect(await admin.xlen(`${prefix}inbox:${reading}`)).toBe(0);
      },
      { timeout: 3_000, interval: 100 },
    );
    expect(await admin.xlen(`${prefix}inbox:${away}`)).toBe(20);
    // The reader goes on after what it deleted: a new entry is handed out, once.
    await bus.inbox.publish(reading, messageEnvelope(21));
    await vi.waitFor(() => {
      expect(seen).toEqual(range(1, 21));
    });
  });

  it('deletes a node’s inbox on remove, and only that one', async () => {
    const bus = await openBus();
    const [dead, alive] = [`node-${randomUUID()}`, `node-${randomUUID()}`];
    for (const seq of range(1, 5)) {
      await bus.inbox.publish(dead, messageEnvelope(seq));
      await bus.inbox.publish(alive, messageEnvelope(seq));
    }
    await bus.inbox.remove(dead);
    expect(await admin.exists(`${prefix}inbox:${dead}`)).toBe(0);
    expect(await admin.xlen(`${prefix}inbox:${alive}`)).toBe(5);
  });

  it('keeps a completed idempotency key for 24 hours, and a claim never completed for a minute only', async () => {
    const bus = await openBus();
    await bus.idempotency.claim('alice', 'k1', '01JABCDEFGHJKMNPQRSTVWXYZ0');
    const pendingTtl = await admin.ttl(`${prefix}idem:alice:k1`);
    expect(pendingTtl).toBeGreaterThan(0);
    expect(pendingTtl).toBeLessThanOrEqual(60);
    await bus.idempotency.complete('alice', 'k1', { id: '01JABCDEFGHJKMNPQRSTVWXYZ0', ts: 1, conv: 'dm:alice:bob' });
    expect(await admin.ttl(`${prefix}idem:alice:k1`)).toBeGreaterThan(86_000);
  });

  it('holds only its own message’s claim, and takes a bare pending claim (an older node’s) for anyone’s', async () => {
    const bus = await openBus();
    const [first, retry] = ['01JABCDEFGHJKMNPQRSTVWXYZ0', '01JABCDEFGHJKMNPQRSTVWXYZ9'];
    const ack = { id: first, ts: 1, conv: 'dm:alice:bob' };
    const key = `${prefix}idem:alice:held`;
    expect(await bus.idempotency.claim('alice', 'held', retry)).toBeUndefined();
    expect(await admin.get(key)).toBe(`pending:${retry}`);
    await admin.expire(key, 5);
    await bus.idempotency.hold('alice', 'held', first);
    expect(await admin.ttl(key)).toBeLessThanOrEqual(5);
    await bus.idempotency.hold('alice', 'held', retry);
    expect(await admin.ttl(key)).toBeGreaterThan(50);

    // A claim written before claims named their message: held, adopted, answered or freed by any.
    for (const [name, settle] of [
      ['complete', () => bus.idempotency.complete('alice', 'bare', ack)],
      ['release', () => bus.idempotency.release('alice', 'bare', first)],
    ] as const) {
      await admin.set(`${prefix}idem:alice:bare`, 'pending', 'EX', 5);
      expect(await bus.idempotency.claim('alice', 'bare', retry), name).toBe('pending');
      await bus.idempotency.hold('alice', 'bare', first);
      expect(await admin.ttl(`${prefix}idem:alice:bare`), name).toBeGreaterThan(50);
      expect(await bus.idempotency.adopt('alice', 'bare', first), name).toBe(true);
      await settle();
      expect(await admin.get(`${prefix}idem:alice:bare`), name).toBe(name === 'complete' ? JSON.stringify(ack) : null);
    }
  });

  it('rejects with unavailable at once when Redis cannot be reached at all', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const error = await rejectionOf(connectRedisBus(nobody, { prefix }));
    expect(error).toBeInstanceOf(ChatError);
    expect(error).toMatchObject({ code: 'unavailable' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

/**
 * Redis servers of this file's own, which the fault tests stop and restart; each on a port
 * picked once, so a restarted server comes back where the clients expect it.
 */
describe('RedisBus when Redis fails', () => {
  let servers: OwnServers | undefined;
  const buses: RedisBus[] = [];
  const clients: Redis[] = [];
  let started = 0;

  /** A redis-server of the test's own that can be stopped and started again on the same port. */
  function ownRedis(): Promise<RestartableServer> {
    if (servers === undefined) throw new Error('no folder for servers outside a test');
    started += 1;
    return startRestartableRedis(servers.launcher, `redis-${started}`);
  }

  async function openBus(url: string, options: RedisBusOptions = {}): Promise<RedisBus> {
    const bus = await connectRedisBus(url, { prefix, ...options });
    buses.push(bus);
    return bus;
  }

  function adminOf(url: string): Redis {
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {
      // Expected while the server is down.
    });
    clients.push(client);
    return client;
  }

  beforeAll(() => {
    servers = ownServers('redis-bus');
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
    for (const client of clients.splice(0)) client.disconnect();
  });
  afterAll(async () => {
    await servers?.stop();
  });

  it('after Redis restarts, the consumer receives every envelope published since, and onReconnect fires', async () => {
    const redis = await ownRedis();
    const bus = await openBus(redis.address);
    let reconnects = 0;
    bus.onReconnect(() => {
      reconnects += 1;
    });
    const node = 'node-restart';
    const seen: number[] = [];
    await bus.inbox.consume(node, (envelope) => {
      seen.push(seqOf(envelope));
      return Promise.resolve();
    });

    const accepted: { seq: number; startedAt: number }[] = [];
    const refusals: unknown[] = [];
    const publishing = new AbortController();
    const publisher = (async () => {
      for (let seq = 1; !publishing.signal.aborted; seq += 1) {
        const startedAt = Date.now();
        try {
          await bus.inbox.publish(node, messageEnvelope(seq));
          accepted.push({ seq, startedAt });
        } catch (error) {
          refusals.push(error);
        }
        await sleep(5);
      }
    })();

    try {
      await vi.waitFor(() => {
        expect(seen.length).toBeGreaterThan(20);
      }, { timeout: 5_000 });
      await redis.stop('SIGTERM');
      await sleep(500);
      await redis.start();
      const restartedAt = Date.now();
      const sinceRestart = (): number[] =>
        accepted.filter((publish) => publish.startedAt >= restartedAt).map((publish) => publish.seq);

      await vi.waitFor(() => {
        expect(reconnects).toBe(1);
        expect(sinceRestart().length).toBeGreaterThan(50);
      }, { timeout: 15_000, interval: 50 });
      publishing.abort();
      await publisher;

      const expected = sinceRestart();
      await vi.waitFor(() => {
        expect(seen).toEqual(expect.arrayContaining(expected));
      }, { timeout: 10_000, interval: 50 });
      // In order and never twice, across the restart too.
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
      // While Redis was away, publishing failed (it did not wait), and with the protocol's code.
      expect(refusals.length).toBeGreaterThan(0);
      for (const refusal of refusals) expect(refusal).toMatchObject({ code: 'unavailable' });
      expect(await bus.isHealthy()).toBe(true);
    } finally {
      publishing.abort();
      await publisher;
    }
  });

  it('after a takeover by a server whose stream lacks the newest entries, reads on after its last one without handing out what it has again; a stream the server lost entirely is read from its start', async () => {
    const redis = await ownRedis();
    const bus = await openBus(redis.address);
    const node = 'node-behind';
    const key = new BusKeys(prefix).inbox(node);
    const seen: number[] = [];
    await bus.inbox.consume(node, (envelope) => {
      seen.push(seqOf(envelope));
      return Promise.resolve();
    });
    const raw = new Redis(redis.address);
    try {
      // An entry from a server whose clock ran far ahead moves the cursor past every id the next server makes.
      await raw.xadd(key, '9999999999999-0', ENVELOPE_FIELD, JSON.stringify(messageEnvelope(1)));
      await vi.waitFor(() => {
        expect(seen).toEqual([1]);
      }, { timeout: 5_000 });

      // The "replica that took over": it has an older entry (already handed out) and not the newest one.
      await raw.multi().del(key).xadd(key, '1-1', ENVELOPE_FIELD, JSON.stringify(messageEnvelope(99))).exec();
      expect(await killConnections(raw, `${prefix}inbox:${node}`)).toBe(1);
      await vi.waitFor(async () => {
        expect(await connectionIds(raw, `${prefix}inbox:${node}`)).toHaveLength(1);
      }, { timeout: 5_000 });
      await sleep(500);
      await publishRange(bus, node, 2, 6);
      await vi.waitFor(() => {
        expect(seen).toEqual(range(1, 6));
      }, { timeout: 5_000 });
    } finally {
      raw.disconnect();
    }

    // A server that lost the stream altogether: everything in it is new.
    await redis.stop('SIGTERM');
    await redis.start();
    await sleep(3_000);
    for (const seq of range(7, 11)) {
      await vi.waitFor(() => bus.inbox.publish(node, messageEnvelope(seq)), { timeout: 10_000, interval: 100 });
    }
    await vi.waitFor(() => {
      expect(seen).toEqual(range(1, 11));
    }, { timeout: 10_000, interval: 50 });
  });

  it('while Redis is down, calls reject with unavailable within a couple of seconds instead of hanging', async () => {
    const redis = await ownRedis();
    const bus = await openBus(redis.address);
    await bus.inbox.consume('node-down', () => Promise.resolve());
    await redis.stop('SIGTERM');

    const calls: [string, () => Promise<unknown>][] = [
      ['publish', () => bus.inbox.publish('node-down', messageEnvelope(1))],
      ['idempotency.claim', () => bus.idempotency.claim('alice', 'k1', 'x')],
      ['routes.addSession', () => bus.routes.addSession({ user: 'alice', node: 'node-down', session: 's1' })],
      ['routes.onlineStatus', () => bus.routes.onlineStatus(['alice', 'bob'])],
      ['heartbeats.beat', () => bus.heartbeats.beat('node-down', 10)],
      ['signal', () => bus.signals.send('node-down', { kind: 'typing', from: 'a', conv: 'dm:a:b', users: ['b'] })],
      ['onSignal', () => bus.signals.subscribe('node-down', () => undefined)],
      ['presence follow', async () => (await bus.presence(() => undefined)).follow(['alice'])],
      ['routes.removeNode', () => bus.routes.removeNode('node-gone', () => Promise.resolve())],
      ['routes.groupNodes', () => bus.routes.groupNodes('team')],
      ['heartbeats.expired', () => bus.heartbeats.expired()],
      ['heartbeats.claimCleanup', () => bus.heartbeats.claimCleanup('node-gone', 10)],
      ['heartbeats.claimOwnCleanup', () => bus.heartbeats.claimOwnCleanup('node-down', 10)],
      ['heartbeats.keepCleanup', () => bus.heartbeats.keepCleanup('node-down', 'token', 10)],
      ['heartbeats.releaseCleanup', () => bus.heartbeats.releaseCleanup('node-down', 'token')],
      ['idempotency.hold', () => bus.idempotency.hold('alice', 'k1', 'x')],
      ['idempotency.adopt', () => bus.idempotency.adopt('alice', 'k1', 'x')],
      ['idempotency.release', () => bus.idempotency.release('alice', 'k1', 'x')],
      ['idempotency.complete', () => bus.idempotency.complete('alice', 'k1', { id: 'x', ts: 1, conv: 'dm:a:b' })],
    ];
    for (const [name, call] of calls) {
      const startedAt = Date.now();
      const error = await rejectionOf(call());
      expect(error, name).toBeInstanceOf(ChatError);
      expect(error, name).toMatchObject({ code: 'unavailable' });
      expect((error as ChatError).cause, name).toBeDefined();
      expect(Date.now() - startedAt, name).toBeLessThan(2_000);
    }

    const checkedAt = Date.now();
    expect(await bus.isHealthy()).toBe(false);
    expect(Date.now() - checkedAt).toBeLessThan(2_000);

    const closingAt = Date.now();
    await bus.close();
    expect(Date.now() - closingAt).toBeLessThan(2_000);
  });

  it('loses no envelope left unread when its consumer connection is killed and Redis stays up', async () => {
    const redis = await ownRedis();
    const admin = adminOf(redis.address);
    const errors: unknown[] = [];
    const bus = await openBus(redis.address, { onError: (error) => errors.push(error) });
    const node = 'node-killed';
    const inboxConnection = `${prefix}inbox:${node}`;
    const seen: number[] = [];
    const released = new Gate();
    await bus.inbox.consume(node, async (envelope: Envelope) => {
      seen.push(seqOf(envelope));
      if (seqOf(envelope) === 1) await released.passed;
    });

    // The consumer is busy with 1 while 2..10 wait unread in the inbox when its connection dies.
    await bus.inbox.publish(node, messageEnvelope(1));
    await vi.waitFor(() => {
      expect(seen).toEqual([1]);
    });
    for (const seq of range(2, 10)) await bus.inbox.publish(node, messageEnvelope(seq));
    expect(await killConnections(admin, inboxConnection)).toBe(1);
    released.open();
    await vi.waitFor(() => {
      expect(seen).toEqual(range(1, 10));
    }, { timeout: 10_000 });

    // Killed again while blocked in XREAD, with nothing unread; what comes next still arrives.
    await vi.waitFor(async () => {
      const lines = await clientList(admin);
      expect(lines.some((line) => line.includes(`name=${inboxConnection} `) && line.includes('cmd=xread'))).toBe(true);
    }, { timeout: 10_000 });
    expect(await killConnections(admin, inboxConnection)).toBe(1);
    for (const seq of range(11, 20)) await bus.inbox.publish(node, messageEnvelope(seq));
    await vi.waitFor(() => {
      expect(seen).toEqual(range(1, 20));
    }, { timeout: 10_000 });
    await sleep(300);
    expect(seen).toEqual(range(1, 20));
    expect(errors.every((error) => error instanceof ChatError && error.code === 'unavailable')).toBe(true);
  });

  it('when all its connections are killed, the bus reconnects: subscriptions come back and onReconnect fires', async () => {
    const redis = await ownRedis();
    const admin = adminOf(redis.address);
    const bus = await openBus(redis.address);
    let reconnects = 0;
    bus.onReconnect(() => {
      reconnects += 1;
    });
    const signals: Signal[] = [];
    await bus.signals.subscribe('node-x', (signal) => signals.push(signal));
    const changes: string[] = [];
    const presence = await bus.presence((user, status) => changes.push(`${user}:${status}`));
    await presence.follow(['alice']);

    expect(await killConnections(admin, `${prefix}commands`)).toBe(1);
    expect(await killConnections(admin, `${prefix}subscriber`)).toBe(1);
    await vi.waitFor(() => {
      expect(reconnects).toBe(1);
    }, { timeout: 10_000 });
    // The subscriber reconnects on its own schedule; signals sent before it is back are lost (at most once).
    const typing: Signal = { kind: 'typing', from: 'bob', conv: 'dm:alice:bob', users: ['alice'] };
    await vi.waitFor(async () => {
      await bus.signals.send('node-x', typing);
      await presence.announce('alice', 'online');
      expect(signals.length).toBeGreaterThan(0);
      expect(changes.length).toBeGreaterThan(0);
    }, { timeout: 10_000, interval: 200 });
    expect(signals[0]).toEqual(typing);
    expect(changes[0]).toBe('alice:online');
  });
});
