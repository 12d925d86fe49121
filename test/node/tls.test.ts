import { randomBytes, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { auth, Client } from 'cassandra-driver';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRedisBus } from '../../node/bus/redis/bus.js';
import { makeTestCertificates } from '../../dev/env/certificates.js';
import { migrate, startNode, stopNode, tokenFor, type NodeProcess } from '../../dev/node-processes.js';
import { describeProtocol } from '../contract/protocol-contract.js';
import { ChatClient } from '../support/chat-client.js';
import { startChatCluster } from '../support/chat-cluster.js';
import { testEnvironment } from '../support/env.js';

/** The variables that put every hop of a node on TLS, with the test environment's CA and certificate, and log it in to Cassandra. */
function tlsNodeEnv(env: ReturnType<typeof testEnvironment>, keysDir: string): NodeJS.ProcessEnv {
  return {
    CHAT_TLS_CERT_FILE: env.CHAT_TEST_CERT_FILE,
    CHAT_TLS_KEY_FILE: env.CHAT_TEST_KEY_FILE,
    CHAT_REDIS_CA_FILE: env.CHAT_TEST_CA_FILE,
    CHAT_CASSANDRA_CA_FILE: env.CHAT_TEST_CA_FILE,
    CHAT_CASSANDRA_USERNAME: env.CHAT_CASSANDRA_TLS_USERNAME,
    CHAT_CASSANDRA_PASSWORD: env.CHAT_CASSANDRA_TLS_PASSWORD,
    CHAT_AT_REST_KEYS_DIR: keysDir,
  };
}

function keysDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'at-rest-keys-'));
  writeFileSync(join(dir, 'v1'), randomBytes(32).toString('base64'));
  return dir;
}

// Clients speak wss:// to three nodes whose only links to Redis and Cassandra are TLS (both
// refuse plaintext, below), with message texts sealed at rest: the whole protocol, unchanged.
describeProtocol('three nodes over wss://, with Redis and Cassandra over TLS only and texts encrypted at rest', async () => {
  const env = testEnvironment();
  const keysDir = keysDirectory();
  const cluster = await startChatCluster(
    { CHAT_REDIS_URL: env.CHAT_REDIS_TLS_URL, CHAT_CASSANDRA_CONTACT_POINTS: env.CHAT_CASSANDRA_TLS_CONTACT_POINTS, CHAT_CASSANDRA_DC: env.CHAT_CASSANDRA_DC },
    3,
    tlsNodeEnv(env, keysDir),
  );
  return {
    nodes: cluster.nodes,
    ca: readFileSync(env.CHAT_TEST_CA_FILE, 'utf8'),
    stop: async () => {
      await cluster.stop();
      rmSync(keysDir, { recursive: true, force: true });
    },
  };
});

describe('TLS on every hop refuses plaintext', () => {
  const env = testEnvironment();
  const ca = readFileSync(env.CHAT_TEST_CA_FILE, 'utf8');
  let keysDir: string;
  let cluster: Awaited<ReturnType<typeof startChatCluster>>;
  let node: NodeProcess;

  beforeAll(async () => {
    keysDir = keysDirectory();
    cluster = await startChatCluster(
      { CHAT_REDIS_URL: env.CHAT_REDIS_TLS_URL, CHAT_CASSANDRA_CONTACT_POINTS: env.CHAT_CASSANDRA_TLS_CONTACT_POINTS, CHAT_CASSANDRA_DC: env.CHAT_CASSANDRA_DC },
      1,
      tlsNodeEnv(env, keysDir),
    );
    node = cluster.nodes[0] as NodeProcess;
  });
  afterAll(async () => {
    await cluster.stop();
    rmSync(keysDir, { recursive: true, force: true });
  });

  it('the node: ws:// and http:// to its port fail, and wss:// fails for a client that does not trust the CA', async () => {
    const port = new URL(node.url).port;
    const token = await tokenFor('plain-peter');
    await expect(ChatClient.connect(`ws://127.0.0.1:${port}`, token)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    await expect(ChatClient.connect(node.wsUrl, token)).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    const trusted = await ChatClient.connect(node.wsUrl, token, 'header', ca);
    expect(trusted.hello).toMatchObject({ type: 'hello', user: 'plain-peter' });
    trusted.close();
  });

  it('a node or `migrate` without the login Cassandra asks for stops at once and says so, rather than waiting for it', async () => {
    const base = { ...process.env, ...cluster.env, CHAT_CASSANDRA_KEYSPACE: `nologin_${randomBytes(3).toString('hex')}` };
    for (const login of [{ CHAT_CASSANDRA_USERNAME: undefined, CHAT_CASSANDRA_PASSWORD: undefined }, { CHAT_CASSANDRA_PASSWORD: 'not-the-password' }]) {
      const refusal = migrate({ ...base, ...login });
      await expect(refusal).rejects.toThrow(/exited 1/);
      await expect(refusal).rejects.toThrow(/Cassandra refused the login \(CHAT_CASSANDRA_USERNAME and CHAT_CASSANDRA_PASSWORD\)/);
    }
  });

  it('Redis: a plaintext client gets no answer, a TLS client that trusts the CA does', async () => {
    const port = Number(new URL(env.CHAT_REDIS_TLS_URL).port);
    const plain = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000, commandTimeout: 2_000 });
    plain.on('error', () => undefined);
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
    const secure = new Redis(env.CHAT_REDIS_TLS_URL, { tls: { ca }, lazyConnect: true, maxRetriesPerRequest: 0 });
    expect(await secure.ping()).toBe('PONG');
    secure.disconnect();
  });

  it('Cassandra: a plaintext client is refused, a TLS client that trusts the CA is served once it logs in, as the node does', async () => {
    const contactPoints = env.CHAT_CASSANDRA_TLS_CONTACT_POINTS.split(',');
    const plain = new Client({ contactPoints, localDataCenter: env.CHAT_CASSANDRA_DC, socketOptions: { connectTimeout: 3_000 } });
    await expect(plain.connect()).rejects.toThrow(/All host\(s\) tried/);
    await plain.shutdown();
    // Over TLS it asks for a login: none, or a wrong one, is refused before any query.
    const anonymous = new Client({ contactPoints, localDataCenter: env.CHAT_CASSANDRA_DC, sslOptions: { ca, rejectUnauthorized: true } });
    await expect(anonymous.connect()).rejects.toThrow(/requires authentication/);
    await anonymous.shutdown();
    const wrong = new Client({ contactPoints, localDataCenter: env.CHAT_CASSANDRA_DC, sslOptions: { ca, rejectUnauthorized: true }, authProvider: new auth.PlainTextAuthProvider(env.CHAT_CASSANDRA_TLS_USERNAME, 'not-the-password') });
    await expect(wrong.connect()).rejects.toThrow(/Provided username .* and\/or password are incorrect/);
    await wrong.shutdown();
    const secure = new Client({
      contactPoints,
      localDataCenter: env.CHAT_CASSANDRA_DC,
      sslOptions: { ca, rejectUnauthorized: true },
      authProvider: new auth.PlainTextAuthProvider(env.CHAT_CASSANDRA_TLS_USERNAME, env.CHAT_CASSANDRA_TLS_PASSWORD),
    });
    expect((await secure.execute('SELECT release_version FROM system.local')).first().get('release_version')).toMatch(/^5\./);

    // What the node stored through it is sealed: no message text in the rows.
    const sender = await ChatClient.connect(node.wsUrl, await tokenFor('rows-alice'), 'header', ca);
    const secret = `tls-and-sealed-${randomBytes(4).toString('hex')}`;
    const ack = await sender.request({ type: 'send', to: { user: 'rows-bob' }, text: secret });
    expect(ack).toMatchObject({ type: 'ack' });
    sender.close();
    const rows = await secure.execute(`SELECT text, sealed FROM ${cluster.keyspace}.messages`);
    expect(rows.rowLength).toBeGreaterThan(0);
    for (const row of rows.rows) {
      expect(row.get('text')).toBeNull();
      expect((row.get('sealed') as Buffer).toString('latin1')).not.toContain(secret);
    }
    await secure.shutdown();
  });
});

describe('the bus through sentinels that speak TLS only (the managed Sentinels with spec.tls)', () => {
  const env = testEnvironment();
  const ca = readFileSync(env.CHAT_TEST_CA_FILE, 'utf8');

  it('finds the primary and carries envelopes when told the sentinels speak TLS, and is refused when not', async () => {
    const prefix = `tls-sentinel-${randomBytes(3).toString('hex')}:`;
    await expect(connectRedisBus(env.CHAT_REDIS_SENTINEL_TLS_URL, { prefix, tls: { ca } })).rejects.toMatchObject({ code: 'unavailable' });
    const bus = await connectRedisBus(env.CHAT_REDIS_SENTINEL_TLS_URL, { prefix, tls: { ca }, sentinelTls: true });
    try {
      expect(await bus.isHealthy()).toBe(true);
      const seen: string[] = [];
      await bus.inbox.consume('node-a', (envelope) => {
        if (envelope.kind === 'message') seen.push(envelope.message.text);
        return Promise.resolve();
      });
      const message = { id: '01JABCDEFGHJKMNPQRSTVWXYZ0', conv: 'dm:a:b', from: 'a', to: { user: 'b' }, text: 'through TLS sentinels', ts: Date.now() };
      await bus.inbox.publish('node-a', { kind: 'message', message, acceptedAt: Date.now(), users: ['b'] });
      await vi.waitFor(() => {
        expect(seen).toEqual(['through TLS sentinels']);
      });
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('is told so by the URL too (sentinelTls=true), as an external Sentinel in a ChatCluster’s redis.external.url', async () => {
    const prefix = `tls-sentinel-${randomBytes(3).toString('hex')}:`;
    const bus = await connectRedisBus(`${env.CHAT_REDIS_SENTINEL_TLS_URL}?sentinelTls=true`, { prefix, tls: { ca } });
    try {
      expect(await bus.isHealthy()).toBe(true);
    } finally {
      await bus.close();
    }
  }, 60_000);
});

describe('the node reloads its certificate', () => {
  const env = testEnvironment();
  let dir: string;
  let node: NodeProcess;

  /** The certificate a new TLS connection to the node is served, trusting `ca`. */
  function servedCertificate(ca: string): Promise<X509Certificate> {
    const port = Number(new URL(node.url).port);
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
        const certificate = socket.getPeerX509Certificate();
        socket.end();
        if (certificate === undefined) reject(new Error('no certificate'));
        else resolve(certificate);
      });
      socket.on('error', reject);
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'node-certificate-'));
    copyFileSync(env.CHAT_TEST_CERT_FILE, join(dir, 'tls.crt'));
    copyFileSync(env.CHAT_TEST_KEY_FILE, join(dir, 'tls.key'));
    // An embedded node is enough: the certificate is the public port's alone.
    node = await startNode({ ...process.env, CHAT_TLS_CERT_FILE: join(dir, 'tls.crt'), CHAT_TLS_KEY_FILE: join(dir, 'tls.key') });
  });
  afterAll(async () => {
    await stopNode(node);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a replaced certificate to new connections without a restart, keeps open sockets, and keeps the old one when the new pair is broken', async () => {
    const oldCa = readFileSync(env.CHAT_TEST_CA_FILE, 'utf8');
    const before = await servedCertificate(oldCa);
    const open = await ChatClient.connect(node.wsUrl, await tokenFor('reload-rita'), 'header', oldCa);

    // A certificate that does not match the key: refused, the old one still served.
    const other = await makeTestCertificates(join(dir, 'other'), 'other');
    copyFileSync(other.certFile, join(dir, 'tls.crt'));
    await waitFor(() => node.output.some((line) => line.includes('could not be used')), 15_000);
    expect((await servedCertificate(oldCa)).fingerprint256).toBe(before.fingerprint256);

    // The matching key arrives: the new certificate (of another CA) is served from now on.
    copyFileSync(other.keyFile, join(dir, 'tls.key'));
    const newCa = readFileSync(other.caFile, 'utf8');
    await waitFor(async () => (await servedCertificate(newCa).catch(() => undefined)) !== undefined, 15_000);
    const after = await servedCertificate(newCa);
    expect(after.fingerprint256).not.toBe(before.fingerprint256);
    expect(after.subject).toContain('CN=other');
    await expect(servedCertificate(oldCa)).rejects.toThrow();
    expect(node.output.some((line) => line.includes('serving a new TLS certificate'))).toBe(true);

    // The socket opened before the change still works.
    expect(await open.request({ type: 'groups' })).toMatchObject({ type: 'groups' });
    const fresh = await ChatClient.connect(node.wsUrl, await tokenFor('reload-rob'), 'header', newCa);
    expect(fresh.hello).toMatchObject({ type: 'hello' });
    fresh.close();
    open.close();
    expect(node.child.exitCode).toBeNull();
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
