import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'cassandra-driver';
import { CASSANDRA_DATACENTER, provisionCassandra, startCassandra } from '../../dev/env/cassandra.js';
import { Launcher } from '../../dev/env/launcher.js';
import { isAlive, removeWhenOwnerExits, type ServerProcess } from '../../dev/env/process.js';
import { startChatCluster, type ChatCluster } from './chat-cluster.js';
import type { TestEnvironment } from './env.js';
import type { ChatUser } from './fault-traffic.js';
import { freePort } from '../../dev/env/ports.js';
import { provisionRedis, startRedisServer } from '../../dev/env/redis.js';
import { stopNode, type NodeProcess } from '../../dev/node-processes.js';

/**
 * A server of a fault test's own, which the test stops (as a crash or a clean stop) and
 * starts again at the same address, with the same configuration and data folder.
 */
export interface RestartableServer {
  /** The address clients use: a `redis://` URL or a Cassandra contact point. */
  readonly address: string;
  /** Signals the server's process group and resolves once it is gone (SIGKILL after 10 s). */
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts the server again where it was and resolves once it answers. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP) for `ms`, as a long GC pause or a stalled disk would, then lets it go on. */
  pause(ms: number): Promise<void>;
}

/** A folder and launcher for a test's own servers; `stop` stops them and removes the folder. */
export interface OwnServers {
  launcher: Launcher;
  stop(): Promise<void>;
}

/** Makes `$TMPDIR/chatcluster-<label>-*` (removed if this run dies) and a launcher whose servers stop with it. */
export function ownServers(label: string): OwnServers {
  const dir = mkdtempSync(join(tmpdir(), `chatcluster-${label}-`));
  removeWhenOwnerExits(process.pid, dir);
  const launcher = new Launcher(dir, { ownerPid: process.pid });
  return {
    launcher,
    async stop() {
      await launcher.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For afterAll of a test that ran users on a cluster: closes the users, stops the nodes
 * (killing those a broken dependency holds up) and, unless the keyspace goes with the
 * test's own Cassandra, drops it.
 */
export async function stopClusterUnderTest(users: readonly ChatUser[], cluster: ChatCluster | undefined, dropKeyspace = true): Promise<void> {
  for (const user of users) user.close();
  if (cluster === undefined) return;
  await stopNodesWithin(cluster.nodes);
  if (dropKeyspace) await cluster.stop();
}

/** A chat cluster on a Redis of the test's own, which the test may stop and start again. */
export interface ClusterOnOwnRedis {
  cluster: ChatCluster;
  redis: RestartableServer;
  /** Stops the users, the nodes (killing those the test's faults hold up) and the Redis. */
  stop(users?: readonly ChatUser[]): Promise<void>;
}

/** Starts a Redis of the test's own (in `$TMPDIR/chatcluster-<label>-*`) and `size` nodes on it and the shared Cassandra. */
export async function startClusterOnOwnRedis(label: string, env: TestEnvironment, size: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<ClusterOnOwnRedis> {
  const servers = ownServers(label);
  try {
    const redis = await startRestartableRedis(servers.launcher);
    const cluster = await startChatCluster({ ...env, CHAT_REDIS_URL: redis.address }, size, extraEnv);
    return {
      cluster,
      redis,
      async stop(users = []) {
        await stopClusterUnderTest(users, cluster);
        await servers.stop();
      },
    };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}

/** Starts a test Redis, restarted as a new redis-server on the same port (nothing persisted, so it comes back empty). */
export async function startRestartableRedis(launcher: Launcher, name = 'redis'): Promise<RestartableServer> {
  const redisServer = await provisionRedis();
  const port = await freePort();
  const first = await startRedisServer(launcher, redisServer, name, port);
  return restartable(`redis://127.0.0.1:${port}`, first, (name) => startRedisServer(launcher, redisServer, name, port));
}

/**
 * Starts a Cassandra with `startCassandra` (about 15 s), restarted with the very command
 * line the launcher started it with: same ports, cassandra.yaml, data, commit log and timer slack.
 */
export async function startRestartableCassandra(launcher: Launcher): Promise<RestartableServer> {
  const contactPoint = await startCassandra(await provisionCassandra(), launcher);
  return restartable(contactPoint, launcher.process('cassandra'), (name) => launcher.startAgain('cassandra', name, () => answersQuery(contactPoint)));
}

function restartable(address: string, first: ServerProcess, launch: (name: string) => Promise<ServerProcess>): RestartableServer {
  let current: ServerProcess | undefined = first;
  let starts = 1;
  return {
    address,
    async stop(signal) {
      if (current === undefined) return;
      await stopProcessGroup(current.pid, signal);
      current = undefined;
    },
    async pause(ms) {
      if (current === undefined) throw new Error(`${first.name} is not running`);
      process.kill(-current.pid, 'SIGSTOP');
      try {
        await sleep(ms);
      } finally {
        process.kill(-current.pid, 'SIGCONT');
      }
    },
    async start() {
      if (current !== undefined) throw new Error(`${first.name} is already running`);
      starts += 1;
      current = await launch(`${first.name}-${starts}`);
    },
  };
}

/** Signals a server's process group and resolves once it is gone (SIGKILL after `graceMs`). */
export async function stopProcessGroup(pid: number, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  const signalGroup = (which: NodeJS.Signals): void => {
    try {
      process.kill(-pid, which);
    } catch {
      // The group is already gone.
    }
  };
  signalGroup(signal);
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  signalGroup('SIGKILL');
  while (isAlive(pid)) await sleep(50);
}


async function answersQuery(contactPoint: string): Promise<boolean> {
  const client = new Client({ contactPoints: [contactPoint], localDataCenter: CASSANDRA_DATACENTER });
  try {
    await client.execute('SELECT release_version FROM system.local');
    return true;
  } finally {
    await client.shutdown();
  }
}

/**
 * Stops chat nodes gracefully (SIGTERM, a drain), and kills those still running after
 * `graceMs`: a node whose dependency a test left broken must not hold up the clean-up.
 */
export async function stopNodesWithin(nodes: readonly NodeProcess[], graceMs = 15_000): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      const stopped = stopNode(node, 'SIGTERM');
      const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
      try {
        await stopped;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
