/**
 * Prints the capacity model (docs/capacity.md) for the figures of one bench run:
 *
 *   npx tsx test/bench/capacity.ts <bench JSON> [--messages-per-user-per-minute 1]
 *
 * The JSON needs the direct, idle and limits scenarios of the same run (`npm run bench`
 * with no --scenarios runs them all).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_ASSUMPTIONS, measuredFiguresOf, planFor, wallsOf, type Assumptions } from './capacity-model.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'messages-per-user-per-minute': { type: 'string' } } });
const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: npx tsx test/bench/capacity.ts <bench JSON> [--messages-per-user-per-minute N]\n');
  process.exit(2);
}
const rate = Number(values['messages-per-user-per-minute'] ?? DEFAULT_ASSUMPTIONS.messagesPerUserPerMinute);
if (!(rate > 0)) throw new Error('--messages-per-user-per-minute must be a positive number');
const assumptions: Assumptions = { ...DEFAULT_ASSUMPTIONS, messagesPerUserPerMinute: rate };
const measured = (() => {
  try {
    return measuredFiguresOf(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    process.stderr.write(`capacity: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
})();

const whole = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—');
const lines = [
  `Figures of the bench run of ${measured.startedAt} (${file}):`,
  '',
  '| measured | value |',
  '| --- | --- |',
  `| highest offered rate delivered in full with p99 ≤ ${measured.latencyAimMs} ms, ${measured.nodes} nodes | ${whole(measured.rateWithinAim)} msg/s |`,
  `| chat nodes' CPU per 1000 msg/s (all nodes) | ${measured.serverCoresPer1000.toFixed(2)} cores |`,
  `| Redis commands per direct message | ${measured.redisCommandsPerMessage.toFixed(2)} |`,
  `| one Redis process, pipelined XADD | ${whole(measured.redisCommandsPerSecondLimit)} commands/s |`,
  `| Cassandra requests per message (the store's path) | ${measured.cassandraRequestsPerMessage} |`,
  `| one Cassandra node (RF 1), the store's path at best | ${whole(measured.cassandraMessagesPerSecondLimit)} msg/s |`,
  `| RSS per idle socket | ${(measured.bytesPerIdleSocket / 1024).toFixed(1)} KiB |`,
  `| socket opens per second, one node | ${whole(measured.opensPerSecond)} |`,
  `| sockets a survivor took back per second from a drained node (reconnect and sync) | ${measured.rehomedPerSecondPerNode === undefined ? 'not measured' : whole(measured.rehomedPerSecondPerNode)} |`,
  '',
  `Assumed: ${assumptions.messagesPerUserPerMinute} message per connected user per minute at the busiest hour; chat pods of ${assumptions.nodeCores} cores ` +
    `and ${assumptions.nodeMemoryBytes / 1024 ** 3} GiB used to ${assumptions.cpuHeadroom * 100} % of CPU and ${assumptions.memoryHeadroom * 100} % of memory; ` +
    `Cassandra replication factor ${assumptions.cassandraReplicationFactor}; Redis and Cassandra planned at ${assumptions.storeHeadroom * 100} % of the limit measured.`,
  '',
  '| connected users | msg/s | chat nodes (CPU · memory · measured rate → needed) | Redis commands/s | Redis primaries | Cassandra requests/s (of which session refreshes; replica writes/s) | Cassandra nodes | a lost node\'s sockets back in |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...[100_000, 1_000_000].map((users) => {
    const plan = planFor(users, measured, assumptions);
    const nodes = plan.chatNodes;
    return (
      `| ${whole(users)} | ${whole(plan.messagesPerSecond)} | ${nodes.byCpu} · ${nodes.byMemory} · ${whole(nodes.byMeasuredRate)} → **${whole(nodes.needed)}** (${nodes.limitedBy}) ` +
      `| ${whole(plan.redis.commandsPerSecond)} | ${plan.redis.primaries} | ${whole(plan.cassandra.requestsPerSecond)} (${whole(plan.cassandra.sessionRefreshesPerSecond)}; ${whole(plan.cassandra.replicaWritesPerSecond)}) ` +
      `| ${plan.cassandra.nodes} | ${Number.isFinite(plan.rehomeSeconds) ? `${plan.rehomeSeconds.toFixed(2)} s` : '—'} |`
    );
  }),
  '',
];
const walls = wallsOf(measured, assumptions);
const wallNames = { redisPrimary: 'one Redis primary', cassandraNode: 'one Cassandra node', chatNode: 'one chat node' } as const;
lines.push(
  'Messages per second one unit of each part carries (planned headroom included):',
  '',
  ...(['redisPrimary', 'cassandraNode', 'chatNode'] as const).map((part) => `- ${wallNames[part]}: ${whole(walls[part])} msg/s${walls.first === part ? ' (met first)' : ''}`),
  '',
);
process.stdout.write(`${lines.join('\n')}\n`);
