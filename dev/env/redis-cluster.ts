import { dirname, join } from 'node:path';
import type { Launcher } from './launcher.js';
import { freePort } from './ports.js';
import { run, type ServerProcess } from './process.js';
import { askRedis, startRedisServer, untilEveryServer } from './redis.js';

const MASTERS = 3;
/**
 * How long a master may be unreachable before the others call it failed and its replica
 * takes over. Production uses 15 s; the tests want a failover well inside their 10 s bound.
 */
const NODE_TIMEOUT_MS = 1_000;

/** A Redis Cluster of three masters, each with one replica, on loopback. */
export interface ClusterRedis {
  /** `redis+cluster://127.0.0.1:<port>,…` (every server as a seed), as a node takes it. */
  url: string;
  /** Every server by port. */
  servers: Map<number, ServerProcess>;
  /** The port of the master serving `key`'s slot now, asked of the server on `viaPort`. */
  masterOf(key: string, viaPort: number): Promise<number>;
}

/** Starts six servers, joins them with `redis-cli --cluster create`, and resolves once every slot is served and replicated. */
export async function startClusterRedis(redisServer: string, launcher: Launcher): Promise<ClusterRedis> {
  // The cluster bus listens on a port of its own; the default (port + 10000) may not exist.
  const ports = await Promise.all(Array.from({ length: MASTERS * 2 }, async () => ({ port: await freePort(), busPort: await freePort() })));
  const servers = new Map<number, ServerProcess>();
  await Promise.all(
    ports.map(async ({ port, busPort }, index) => {
      const flags = [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-port', String(busPort),
        '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        // A replica whose master died takes over however long its link was down.
        '--cluster-replica-validity-factor', '0',
      ];
      servers.set(port, await startRedisServer(launcher, redisServer, `redis-${index}`, port, flags));
    }),
  );
  const addresses = ports.map(({ port }) => `127.0.0.1:${port}`);
  const redisCli = join(dirname(redisServer), 'redis-cli');
  // On a loaded machine a handshake can time out (after cluster-node-timeout, 1 s here), and
  // `--cluster create` then waits for the join forever. So while it runs, once it has given
  // the first server its config epoch (its step just before the meeting; earlier, a server
  // that knows another would fail its check that all are empty), the others are told again
  // to meet the first one (a server that knows it already ignores that).
  const [first] = ports;
  const meeting = setInterval(() => {
    if (first === undefined) return;
    void (async () => {
      const info = await askRedis(`redis://127.0.0.1:${first.port}`, (client) => client.cluster('INFO'));
      if (/^cluster_my_epoch:0\b/m.test(info)) return;
      await Promise.all(
        ports.slice(1).map(({ port }) => askRedis(`redis://127.0.0.1:${port}`, (client) => client.cluster('MEET', '127.0.0.1', first.port, first.busPort))),
      );
    })().catch(() => undefined);
  }, 2_000);
  try {
    await run(redisCli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], {
      remedy: 'redis-cli comes with Debian’s redis-tools (a dependency of redis-server)',
    });
  } finally {
    clearInterval(meeting);
  }
  await untilEveryServer(
    ports.map(({ port }) => port),
    'the Redis Cluster did not come up',
    clusterState,
    (state) => state === `ok, ${MASTERS} replicated masters`,
  );
  return {
    url: `redis+cluster://${addresses.join(',')}`,
    servers,
    masterOf: async (key, viaPort) => {
      const answer = await askRedis(`redis://127.0.0.1:${viaPort}`, async (client) => {
        const slot = await client.cluster('KEYSLOT', key);
        const shards = await client.cluster('SLOTS');
        return shards.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
      });
      if (answer === undefined) throw new Error(`no master serves the slot of ${key}`);
      return answer;
    },
  };
}

async function clusterState(port: number): Promise<string> {
  return askRedis(`redis://127.0.0.1:${port}`, async (client) => {
    const info = await client.cluster('INFO');
    const state = /^cluster_state:(\w+)/m.exec(info)?.[1] ?? 'unknown';
    const nodes = String(await client.cluster('NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    // CLUSTER NODES: id address flags master-id ping-sent pong-received epoch link-state slots…
    const connectedReplicaOf = new Set(nodes.filter((fields) => fields[2]?.includes('slave') === true && fields[7] === 'connected').map((fields) => fields[3]));
    const replicated = nodes.filter((fields) => fields[2]?.includes('master') === true && connectedReplicaOf.has(fields[0]));
    return `${state}, ${replicated.length} replicated masters`;
  });
}
