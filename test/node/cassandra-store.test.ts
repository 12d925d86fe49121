import { randomBytes } from 'node:crypto';
import { Client, errors, types } from 'cassandra-driver';
import { monotonicFactory } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatError } from '../../node/protocol/errors.js';
import type { ChatMessage } from '../../node/protocol/frames.js';
import { messageIdTime } from '../../node/protocol/ids.js';
import { bucketOfMessageId } from '../../node/store/buckets.js';
import { cassandraClient, type CassandraConnection } from '../../node/store/cassandra/client.js';
import { storeError } from '../../node/store/cassandra/errors.js';
import { CassandraStore } from '../../node/store/cassandra/store.js';
import { migrate, simpleStrategy, TABLES } from '../../node/store/schema.js';
import { freePort } from '../../dev/env/ports.js';
import { cassandraConnection, freshKeyspace, openMigratedStore as openMigratedTestStore } from '../support/cassandra.js';
import { testEnvironment } from '../support/env.js';

const env = testEnvironment();
const cluster = cassandraConnection(env);
const openMigratedStore = (options?: { pageRows?: number }) => openMigratedTestStore(env, options);

describe('CassandraStore on Cassandra', () => {
  let opened: Awaited<ReturnType<typeof openMigratedStore>>;

  beforeAll(async () => {
    // Small pages, so reads of whole partitions must follow the driver's paging.
    opened = await openMigratedStore({ pageRows: 2 });
  });
  afterAll(async () => {
    await opened.close();
  });

  it('reads partitions longer than one page', async () => {
    const group = `g-${randomBytes(4).toString('hex')}`;
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'].map((user) => `${user}-${group}`);
    for (const user of users) await opened.store.addMember(group, user);
    expect(await opened.store.members(group)).toEqual(users);
  });

  it('writes one conversation_buckets row per day that holds messages', async () => {
    const next = monotonicFactory();
    const day = 86_400_000;
    const start = Date.UTC(2025, 5, 1, 10);
    const ids = [0, 0, 2, 9, 9, 9].map((days, i) => next(start + days * day + i));
    const conv = `g:${randomBytes(4).toString('hex')}`;
    for (const id of ids) {
      const message: ChatMessage = { id, conv, from: 'ann', to: { group: conv.slice(2) }, text: id, ts: messageIdTime(id) };
      await opened.store.appendMessage(message, ['ann']);
    }
    const rows = await opened.admin.execute(`SELECT bucket FROM ${opened.keyspace}.conversation_buckets WHERE conv_id = ?`, [conv], {
      prepare: true,
    });
    const buckets = rows.rows.map((row) => row.get('bucket') as number);
    const expected = [...new Set(ids.map(bucketOfMessageId))].sort((a, b) => b - a);
    expect(buckets).toEqual(expected);
    expect(expected).toHaveLength(3);
    const page = await opened.store.history(conv, { limit: 4 });
    expect(page.messages.map((message) => message.id)).toEqual(ids.slice(2).reverse());
    expect(page.more).toBe(true);
  });

  it('lets a session row expire after its TTL', async () => {
    const session = { user: 'ttl-user', node: `node-${randomBytes(4).toString('hex')}`, session: 'ttl-session' };
    await opened.store.putSession(session, 2);
    expect(await opened.store.sessionsOf(session.user)).toContainEqual(session);
    expect(await opened.store.sessionsOnNode(session.node)).toEqual([session]);
    const deadline = Date.now() + 15_000;
    let left = await opened.store.sessionsOnNode(session.node);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      left = await opened.store.sessionsOnNode(session.node);
    }
    expect(left).toEqual([]);
    expect(await opened.store.sessionsOf(session.user)).not.toContainEqual(session);
  });

  it('rejects a non-positive session TTL instead of writing a row that never expires', async () => {
    const session = { user: 'ttl-user', node: 'ttl-node', session: 'forever' };
    await expect(opened.store.putSession(session, 0)).rejects.toMatchObject({ code: 'internal' });
    expect(await opened.store.sessionsOnNode('ttl-node')).toEqual([]);
  });

  it('answers a malformed cursor with bad_request', async () => {
    await expect(opened.store.history('g:any', { before: 'not-an-id', limit: 5 })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(opened.store.sync('anyone', { since: 'not-an-id', limit: 5 })).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('migrate', () => {
  const keyspaces: string[] = [];
  let admin: Client;

  beforeAll(() => {
    admin = cassandraClient(cluster);
  });
  afterAll(async () => {
    for (const keyspace of keyspaces) await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.shutdown();
  });

  async function tablesOf(keyspace: string): Promise<string[]> {
    const result = await admin.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace], { prepare: true });
    return result.rows.map((row) => row.get('table_name') as string).sort();
  }

  it('creates the keyspace and every table, and changes nothing when run again', async () => {
    const keyspace = freshKeyspace();
    keyspaces.push(keyspace);
    await migrate(admin, { keyspace, replication: simpleStrategy(1) });
    const store = await CassandraStore.connect({ ...cluster, keyspace });
    try {
      expect(await store.createGroup({ name: 'kept', createdBy: 'ann', createdAt: 1 })).toBe(true);
      await migrate(admin, { keyspace, replication: simpleStrategy(1) });
      expect(await tablesOf(keyspace)).toEqual([...TABLES].sort());
      expect(await store.getGroup('kept')).toEqual({ name: 'kept', createdBy: 'ann', createdAt: 1 });
    } finally {
      await store.close();
    }
  });

  it('succeeds when several processes migrate the same keyspace at once', async () => {
    const keyspace = freshKeyspace();
    keyspaces.push(keyspace);
    const clients = [cassandraClient(cluster), cassandraClient(cluster), cassandraClient(cluster)];
    try {
      await Promise.all(clients.map((client) => migrate(client, { keyspace, replication: simpleStrategy(1) })));
    } finally {
      await Promise.all(clients.map((client) => client.shutdown()));
    }
    expect(await tablesOf(keyspace)).toEqual([...TABLES].sort());
    const replication = await admin.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], {
      prepare: true,
    });
    expect(replication.rows[0]?.get('replication')).toMatchObject({ replication_factor: '1' });
  });

  it('refuses a keyspace name that is not a plain CQL identifier', async () => {
    await expect(migrate(admin, { keyspace: 'x; DROP KEYSPACE system', replication: simpleStrategy(1) })).rejects.toThrow(RangeError);
  });
});

describe('CassandraStore without Cassandra', () => {
  let unreachable: CassandraConnection;

  beforeAll(async () => {
    // A port that was free a moment ago: nothing listens there, so every connection is refused.
    unreachable = {
      contactPoints: [`127.0.0.1:${await freePort()}`],
      localDataCenter: env.CHAT_CASSANDRA_DC,
      keyspace: 'nowhere',
      connectTimeoutMs: 1_000,
      readTimeoutMs: 1_000,
    };
  });

  it('rejects appendMessage with unavailable, keeping the driver error as the cause', async () => {
    const store = new CassandraStore(cassandraClient(unreachable));
    try {
      const id = monotonicFactory()(Date.now());
      const message: ChatMessage = { id, conv: 'dm:a:b', from: 'a', to: { user: 'b' }, text: 'hi', ts: messageIdTime(id) };
      const error: unknown = await store.appendMessage(message, ['a', 'b']).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ChatError);
      expect((error as ChatError).code).toBe('unavailable');
      expect((error as ChatError).cause).toBeInstanceOf(errors.NoHostAvailableError);
      expect(await store.isHealthy()).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('fails to connect with unavailable', async () => {
    await expect(CassandraStore.connect(unreachable)).rejects.toMatchObject({ name: 'ChatError', code: 'unavailable' });
  });
});

describe('driver failures as protocol errors', () => {
  it('maps unreachable, timed-out and overloaded Cassandra to unavailable', () => {
    const codes = types.responseErrorCodes;
    const failures = [
      new errors.NoHostAvailableError({}),
      new errors.OperationTimedOutError('no answer', '127.0.0.1:9042'),
      new errors.ResponseError(codes.unavailableException, 'not enough replicas'),
      new errors.ResponseError(codes.writeTimeout, 'write timed out'),
      new errors.ResponseError(codes.readTimeout, 'read timed out'),
      new errors.ResponseError(codes.overloaded, 'overloaded'),
    ];
    for (const failure of failures) {
      const mapped = storeError(failure, 'test');
      expect(mapped.code).toBe('unavailable');
      expect(mapped.cause).toBe(failure);
    }
  });

  it('maps every other failure to internal', () => {
    const failures = [new errors.ResponseError(types.responseErrorCodes.syntaxError, 'bad CQL'), new TypeError('bad value')];
    for (const failure of failures) expect(storeError(failure, 'test').code).toBe('internal');
  });

  it('passes a ChatError through unchanged', () => {
    const original = new ChatError('bad_request', 'no');
    expect(storeError(original, 'test')).toBe(original);
  });
});
