import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, Host } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cassandraClient, MAX_RECONNECT_DELAY_MS } from '../../node/store/cassandra/client.js';
import { isReplaced } from '../../node/store/cassandra/current-hosts.js';
import { cassandraConnection, createTestKeyspace, type TestKeyspace } from '../support/cassandra.js';
import { CqlAnswerLoss } from '../support/cql-answer-loss.js';
import { testEnvironment } from '../support/env.js';
import { summary } from '../support/fault-checks.js';

const env = testEnvironment();
const cluster = cassandraConnection(env);
const READ_TIMEOUT_MS = 2_000;
/** Outages to try before giving up on seeing the driver replace the node's host (each about 5 s). */
const MOST_OUTAGES = 12;
/** Longer than any reconnection of a pool the driver left behind could take (its delay plus 15 % jitter). */
const RECONNECTIONS_SETTLED_MS = MAX_RECONNECT_DELAY_MS * 1.15 + 2_000;

/**
 * The driver (cassandra-driver 4.10.0) replaces the host of a node when its control
 * connection has to start over from the contact points: after every node was out of reach at
 * once, if the control connection gets back before the node's own pool does. Which of the two
 * gets back first is down to their reconnection delays' jitter, so outages are repeated until
 * the driver has replaced the host.
 */
describe('the store client after every Cassandra node was out of reach at once', () => {
  let keyspace: TestKeyspace | undefined;
  let proxy: CqlAnswerLoss | undefined;
  let client: Client | undefined;

  beforeAll(async () => {
    keyspace = await createTestKeyspace(env, 'client');
    await keyspace.client.execute('CREATE TABLE notes (id text PRIMARY KEY, body text)');
    proxy = await CqlAnswerLoss.start(cluster.contactPoints[0] ?? '127.0.0.1');
    client = cassandraClient({ ...cluster, contactPoints: [`127.0.0.1:${proxy.port}`], keyspace: keyspace.name, readTimeoutMs: READ_TIMEOUT_MS });
    await client.connect();
  });
  afterAll(async () => {
    await client?.shutdown();
    await proxy?.close();
    await keyspace?.close();
  });

  it('plans the node once, on the host that replaced it, and closes the pool of the one replaced', async () => {
    if (client === undefined || proxy === undefined) throw new Error('the client did not start');
    const store = client;
    const write = (id: string, body: string) =>
      store.execute(`INSERT INTO notes (id, body) VALUES (?, ?)`, [id, body], { prepare: true, isIdempotent: true });
    await write('before', 'before the outages');
    const connectionsBefore = proxy.connections;
    const replaced: Host[] = [];
    store.on('hostRemove', (host: Host) => {
      if (isReplaced(host, store.hosts)) replaced.push(host);
    });

    let outages = 0;
    while (replaced.length === 0) {
      if (outages === MOST_OUTAGES) throw new Error(`the driver replaced no host in ${MOST_OUTAGES} outages`);
      outages += 1;
      proxy.refuse();
      await vi.waitFor(() => {
        expect(store.hosts.values().some((host) => host.isUp())).toBe(false);
      }, { timeout: 10_000, interval: 50 });
      await sleep(1_500);
      proxy.accept();
      await vi.waitFor(async () => {
        await write(`after-${outages}`, 'after an outage');
      }, { timeout: 30_000, interval: 250 });
    }

    // A pool left behind would have reconnected by now, beside the new one.
    await sleep(RECONNECTIONS_SETTLED_MS);
    expect(proxy.connections, `connections through the proxy after ${outages} outages`).toBe(connectionsBefore);
    expect(store.hosts.length).toBe(1);

    // A write whose answers are lost times out once: there is no other host to retry it on.
    const text = `its answer lost ${randomBytes(4).toString('hex')}`;
    const loss = proxy.loseAnswersTo(text);
    const startedAt = Date.now();
    const failure = await write('lost', text).then(() => undefined, (error: unknown) => error);
    const failedAfterMs = Date.now() - startedAt;
    loss.end();
    expect(failure, 'the write whose answer was lost').toBeInstanceOf(Error);
    expect(loss.lost, 'answers lost (one per try)').toBe(1);
    expect(failedAfterMs).toBeLessThan(2 * READ_TIMEOUT_MS);
    summary('every Cassandra node out of reach at once', { outagesUntilAHostWasReplaced: outages, connectionsThroughTheProxy: proxy.connections, lostWriteFailedAfterMs: failedAfterMs });
  }, 240_000);
});
