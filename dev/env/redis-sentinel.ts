import { writeFileSync } from 'node:fs';
import type { Launcher } from './launcher.js';
import { freePort } from './ports.js';
import type { ServerProcess } from './process.js';
import { askRedis, startRedisServer, untilEveryServer } from './redis.js';

/** The master name the test sentinels monitor. */
export const SENTINEL_MASTER_NAME = 'chat';
const REPLICAS = 2;
const SENTINELS = 3;
/**
 * How long a primary may be silent before a sentinel calls it down. Production uses
 * seconds more; the tests want a failover well inside their 10 s bound.
 */
const DOWN_AFTER_MS = 1_000;
/**
 * After an election no sentinel wins (votes split, or a candidate too slow to ask), none
 * tries again for twice this: at 10 s the retry would come 20 s after the kill, past the
 * tests' bound (a clean-clone run on a loaded machine saw no takeover within 15 s); at 3 s
 * a second election still fits in 10 s.
 */
const FAILOVER_TIMEOUT_MS = 3_000;

/** A primary, two replicas and three sentinels on loopback, as a team runs Redis with failover. */
export interface SentinelRedis {
  /** `redis+sentinel://127.0.0.1:<port>,…/chat`, as a node takes it. */
  url: string;
  /** The data servers (primary and replicas) by port. */
  servers: Map<number, ServerProcess>;
  /** The port of the primary the sentinels name now. */
  primaryPort(): Promise<number>;
}

/**
 * Starts the topology and resolves once every sentinel knows the primary, both replicas
 * and the other two sentinels (only then can they agree on a failover).
 */
export async function startSentinelRedis(redisServer: string, launcher: Launcher): Promise<SentinelRedis> {
  const ports = await Promise.all(Array.from({ length: 1 + REPLICAS }, () => freePort()));
  const [primaryPort] = ports;
  if (primaryPort === undefined) throw new Error('no port for the primary');
  const servers = new Map<number, ServerProcess>();
  for (const [index, port] of ports.entries()) {
    const role = index === 0 ? [] : ['--replicaof', '127.0.0.1', String(primaryPort)];
    servers.set(port, await startRedisServer(launcher, redisServer, `redis-${index}`, port, role));
  }
  const sentinelPorts = await Promise.all(Array.from({ length: SENTINELS }, () => freePort()));
  await Promise.all(
    sentinelPorts.map(async (port, index) => {
      const name = `sentinel-${index}`;
      // A sentinel rewrites its configuration file as it learns the topology: one each.
      const config = launcher.path(`${name}.conf`);
      writeFileSync(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${launcher.dir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      await launcher.start(name, redisServer, [config, '--sentinel'], () => answersSentinel(port));
    }),
  );
  // They meet through the primary every 2 s: only then can they agree on a failover.
  await untilEveryServer(sentinelPorts, 'the sentinels did not find each other and both replicas', masterView, (view) => view.replicas === REPLICAS && view.sentinels === SENTINELS - 1);
  const sentinelUrl = `redis://127.0.0.1:${sentinelPorts[0] ?? 0}`;
  return {
    url: `redis+sentinel://${sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',')}/${SENTINEL_MASTER_NAME}`,
    servers,
    primaryPort: async () => {
      const reply = await askRedis(sentinelUrl, (client) => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME));
      return Number(Array.isArray(reply) ? reply[1] : undefined);
    },
  };
}

async function answersSentinel(port: number): Promise<boolean> {
  await askRedis(`redis://127.0.0.1:${port}`, (client) => client.call('SENTINEL', 'MASTERS'));
  return true;
}

async function masterView(port: number): Promise<{ replicas: number; sentinels: number }> {
  const reply = await askRedis(`redis://127.0.0.1:${port}`, (client) => client.call('SENTINEL', 'MASTER', SENTINEL_MASTER_NAME));
  const fields = Array.isArray(reply) ? reply.map(String) : [];
  const field = (name: string): number => Number(fields[fields.indexOf(name) + 1]);
  return { replicas: field('num-slaves'), sentinels: field('num-other-sentinels') };
}
