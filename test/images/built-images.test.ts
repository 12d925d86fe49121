/**
 * The four images the kind e2e suite runs, built by the real Docker engine without any
 * registry (dev/env/images), each started the way Kubernetes will start it: the node
 * image serves as its user 1000; the operator image stops on bad configuration, naming
 * the variable; the Redis and Cassandra images run as 999 with the arguments and
 * environment the operator's StatefulSets give them, keep their data in the volume path,
 * and answer PING and CQL on 127.0.0.1. Without Docker this fails, saying what to install.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { V1Container, V1StatefulSet } from '@kubernetes/client-node';
import { Client } from 'cassandra-driver';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHATCLUSTER_API_VERSION, CHATCLUSTER_KIND, parseChatClusterSpec, type ChatCluster } from '../../common/chatcluster.js';
import { desiredCassandra } from '../../operator/desired/dependencies.js';
import { desiredRedis } from '../../operator/desired/redis.js';
import { docker, dockerEnv, provisionDocker, type DockerEngine } from '../../dev/env/docker/engine.js';
import { buildProjectImages, type ProjectImages } from '../../dev/env/images/index.js';

const JWT_SECRET = 'built-images-test-secret-0123456789abcdef';
const RUN_ID = `chatcluster-images-test-${process.pid}`;
const RUN_LABEL = `dev.chatcluster.test-run=${RUN_ID}`;

let engine: DockerEngine;
let images: ProjectImages;
const containers: string[] = [];
const volumes: string[] = [];

/** Starts a detached container (removed after the tests); resolves with its name. */
async function start(args: readonly string[]): Promise<string> {
  const name = `${RUN_ID}-${containers.length}`;
  containers.push(name);
  await docker(engine, ['run', '--detach', '--name', name, '--label', RUN_LABEL, ...args]);
  return name;
}

/** A named volume of this run, fresh, as a PersistentVolume would be. */
async function volume(): Promise<string> {
  const name = `${RUN_ID}-${volumes.length}`;
  volumes.push(name);
  await docker(engine, ['volume', 'create', '--label', RUN_LABEL, name]);
  return name;
}

/** Removes this run's containers and volumes once this worker is gone, however it ended (Ctrl-C, crash). */
function removeWhenWorkerExits(): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
    docker ps -aq --filter label=${RUN_LABEL} | xargs -r docker rm -f
    docker volume ls -q --filter label=${RUN_LABEL} | xargs -r docker volume rm -f`;
  const env = { ...dockerEnv(engine), PATH: `${dirname(engine.client)}:${process.env.PATH ?? ''}` };
  spawn('bash', ['-c', script], { detached: true, stdio: 'ignore', env }).unref();
}

/** The loopback port Docker published for a container port. */
async function publishedPort(container: string, port: number): Promise<number> {
  const mapping = await docker(engine, ['port', container, `${port}/tcp`]);
  const match = /127\.0\.0\.1:(\d+)/.exec(mapping);
  if (match?.[1] === undefined) throw new Error(`${container}: port ${port} is not published on 127.0.0.1 (${mapping})`);
  return Number(match[1]);
}

/** The real UID of the container's main process, read from the kernel. */
async function mainProcessUid(container: string): Promise<number> {
  const status = await docker(engine, ['exec', container, 'cat', '/proc/1/status']);
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

async function logs(container: string): Promise<string> {
  return docker(engine, ['logs', container]).catch((error: unknown) => String(error));
}

/** Polls `check` until it holds; fails with the container's log after `timeoutMs`. */
async function eventually(container: string, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    const state = await docker(engine, ['inspect', '--format', '{{.State.Status}}', container]);
    if (state.trim() !== 'running') throw new Error(`${container} ${state.trim()} before ${what}:\n${await logs(container)}`);
    if (Date.now() > deadline) throw new Error(`${container}: no ${what} in ${timeoutMs / 1000} s:\n${(await logs(container)).slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * A ChatCluster of a few lines, as the e2e spec has it, for the operator's dependency
 * objects; its Redis standalone, the one container started here on its own (the
 * Sentinel mode's pods need their peers' names: the kind e2e runs them).
 */
const cluster: ChatCluster = {
  apiVersion: CHATCLUSTER_API_VERSION,
  kind: CHATCLUSTER_KIND,
  metadata: { name: 'images', namespace: 'default', uid: randomUUID(), generation: 1 },
  // Cassandra with `resources: {}`: no heap from the operator, so the image sizes it from the container's memory limit itself.
  spec: parseChatClusterSpec({ redis: { managed: { mode: 'standalone' } }, cassandra: { managed: { replicas: 1, storage: '1Gi', replicationFactor: 1, resources: {} } } }),
};

/** The one container of a StatefulSet the operator builds. */
function containerOf(statefulSet: V1StatefulSet | undefined): V1Container {
  const container = statefulSet?.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error('the operator built no container');
  return container;
}

beforeAll(async () => {
  engine = await provisionDocker();
  removeWhenWorkerExits();
  const started = Date.now();
  images = await buildProjectImages(engine);
  console.log(`images built or reused in ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(images)}`);
}, 45 * 60_000);

afterAll(async () => {
  if (containers.length > 0) await docker(engine, ['rm', '--force', '--volumes', ...containers]).catch(() => undefined);
  if (volumes.length > 0) await docker(engine, ['volume', 'rm', '--force', ...volumes]).catch(() => undefined);
}, 120_000);

describe('the images built without a registry', () => {
  it('the node image serves /readyz 200 and the web client on embedded defaults, as UID 1000', async () => {
    const node = await start(['--publish', '127.0.0.1::8080', '--env', `CHAT_JWT_SECRET=${JWT_SECRET}`, '--env', 'CHAT_NODE_ID=images-test', images.node]);
    const port = await publishedPort(node, 8080);
    // Each attempt bounded: Docker's port proxy may hold a connection open while the server starts.
    await eventually(node, '/readyz 200', 60_000, async () => (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200);
    expect(await mainProcessUid(node)).toBe(1000);
    expect(await logs(node)).toMatch(/embedded/i);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)]);
  }, 120_000);

  it('the operator image stops on bad configuration, naming the variable, as UID 1000', async () => {
    const output = await docker(engine, ['run', '--rm', '--env', 'HEALTH_PORT=notaport', images.operator]).then(
      (text) => ({ ok: true, text }),
      (error: unknown) => ({ ok: false, text: String(error) }),
    );
    expect(output.ok).toBe(false);
    expect(output.text).toContain('invalid configuration');
    expect(output.text).toContain('HEALTH_PORT');
    expect((await docker(engine, ['image', 'inspect', '--format', '{{.Config.User}}', images.operator])).trim()).toBe('1000:1000');
  }, 120_000);

  it('the Redis image, started as the operator starts it, answers PING as UID 999 and keeps its data in /data', async () => {
    const container = containerOf(desiredRedis(cluster)?.statefulSet);
    const data = await volume();
    const redis = await start([
      // The operator's pod: runAsUser/Group 999, read-only root filesystem, no capabilities.
      '--user', '999:999', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--volume', `${data}:/data`, '--publish', '127.0.0.1::6379',
      images.redis, ...(container.args ?? []),
    ]);
    const port = await publishedPort(redis, 6379);
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    await eventually(redis, 'PING', 30_000, async () => {
      await client.connect().catch(() => undefined);
      await client.ping();
      return true;
    });
    try {
      await client.set('images-test', 'kept');
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    } finally {
      client.disconnect();
    }
    expect(await mainProcessUid(redis)).toBe(999);
    // The readiness probe's command.
    expect((await docker(engine, ['exec', redis, 'redis-cli', 'ping'])).trim()).toBe('PONG');
    const files = await docker(engine, ['exec', redis, 'find', '/data', '-printf', '%U:%G %p\n']);
    expect(files).toMatch(/^999:999 \/data\/appendonlydir$/m);
  }, 120_000);

  it('the Redis image started as root with no arguments drops to UID 999 and accepts remote clients, as the official one does', async () => {
    const redis = await start(['--publish', '127.0.0.1::6379', images.redis]);
    const port = await publishedPort(redis, 6379);
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await eventually(redis, 'PING', 30_000, async () => {
        await client.connect().catch(() => undefined);
        await client.ping();
      return true;
      });
    } finally {
      client.disconnect();
    }
    expect(await mainProcessUid(redis)).toBe(999);
  }, 120_000);

  it('the Cassandra image, with the operator’s environment, answers CQL as UID 999 with its data in /var/lib/cassandra and a heap within 1 GiB', async () => {
    const container = containerOf(desiredCassandra(cluster)?.statefulSet);
    const data = await volume();
    // The pod's own name stands in for the seed's DNS name: one node seeds itself.
    const hostname = 'images-cassandra-0';
    const env = (container.env ?? []).map(({ name, value }) => (name === 'CASSANDRA_SEEDS' ? `${name}=${hostname}` : `${name}=${value ?? ''}`));
    const cassandra = await start([
      '--user', '999:999', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      // A memory limit as the e2e spec sets one: the heap follows it.
      '--memory', '2g', '--hostname', hostname,
      '--volume', `${data}:/var/lib/cassandra`, '--publish', '127.0.0.1::9042',
      ...env.flatMap((variable) => ['--env', variable]),
      images.cassandra,
    ]);
    const port = await publishedPort(cassandra, 9042);
    const dc = container.env?.find((variable) => variable.name === 'CASSANDRA_DC')?.value ?? '';
    const client = new Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: dc });
    try {
      await eventually(cassandra, 'CQL', 300_000, async () => {
        await client.connect();
        return true;
      });
      const local = (await client.execute('SELECT cluster_name, data_center, rack, release_version FROM system.local')).first();
      expect(local.get('cluster_name')).toBe(container.env?.find((variable) => variable.name === 'CASSANDRA_CLUSTER_NAME')?.value);
      expect([local.get('data_center'), local.get('rack')]).toEqual([dc, 'rack1']);
      expect(images.cassandra).toBe(`cassandra:${String(local.get('release_version'))}`);
      await client.execute("CREATE KEYSPACE images_test WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1}");
      await client.execute('CREATE TABLE images_test.kv (k text PRIMARY KEY, v text)');
      await client.execute("INSERT INTO images_test.kv (k, v) VALUES ('a', 'kept')");
      expect((await client.execute("SELECT v FROM images_test.kv WHERE k = 'a'")).first().get('v')).toBe('kept');
    } finally {
      await client.shutdown();
    }
    expect(await mainProcessUid(cassandra)).toBe(999);
    expect(await logs(cassandra)).toMatch(/cassandra: heap 1024M /);
    // The preStop hook's command, over JMX on loopback.
    await docker(engine, ['exec', cassandra, 'nodetool', 'flush', 'images_test']);
    expect(await docker(engine, ['exec', cassandra, 'nodetool', 'status'])).toMatch(/^UN /m);
    await docker(engine, ['exec', cassandra, 'nodetool', 'drain']);
    const files = await docker(engine, ['exec', cassandra, 'find', '/var/lib/cassandra/data/images_test', '-name', '*-Data.db', '-printf', '%U %p\n']);
    expect(files).toMatch(/^999 \/var\/lib\/cassandra\/data\/images_test\/kv-/m);
  }, 420_000);
});
