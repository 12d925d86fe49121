import { availableParallelism } from 'node:os';
import type { DirectLoadResult, DirectStep } from './direct-load.js';
import type { GroupFanoutResult } from './group-fanout.js';
import type { IdleSocketsResult } from './idle-sockets.js';
import type { OpenRateStep } from './open-rate.js';
import type { StormResult, StormStep } from './reconnect-storm.js';
import type { StoreWarmUp } from './store-warm-up.js';
import { cpuMsEach } from './process-figures.js';
import { ratio, round } from './statistics.js';

type Cell = string | number | null | undefined;

/** A plain-text table: text columns left-aligned, numbers right-aligned, `-` for missing. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (cell: Cell): string => (cell === null || cell === undefined ? '-' : String(cell));
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => text(row[column]).length)));
  const line = (cells: readonly Cell[], alignAll?: 'left'): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return alignAll === 'left' || typeof cell === 'string' ? text(cell).padEnd(width) : text(cell).padStart(width);
      })
      .join('  ')
      .trimEnd();
  return [line(headers, 'left'), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map((row) => line(row))].join('\n');
}

function kib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '-' : `${round(bytes / 1024, 1)} KB`;
}

function mib(bytes: number): string {
  return `${round(bytes / (1024 * 1024), 1)} MiB`;
}

function times(value: number | null): string {
  return value === null ? 'n/a' : `${value}x`;
}

function errorsText(errors: Readonly<Partial<Record<string, number>>>): string {
  const entries = Object.entries(errors).filter((entry): entry is [string, number] => entry[1] !== undefined);
  return entries.length === 0 ? '-' : entries.map(([code, count]) => `${code}:${count}`).join(' ');
}

/** How a Cassandra was warmed up before the chat scenarios, and whether its JIT compilers went quiet. */
export function formatStoreWarmUp(warmUp: StoreWarmUp, storeName: string): string {
  const cores = warmUp.compilerCores.join(', ');
  const outcome = warmUp.settled ? `warm: under ${warmUp.quietCores} cores in the last` : `NOT warm when the warm-up's time ran out: ${warmUp.quietCores} cores or more in the last`;
  return (
    `${storeName}: ${round(warmUp.ms / 1000, 1)} s of warm-up traffic (${warmUp.rounds} round${warmUp.rounds === 1 ? '' : 's'} of sockets opened, synced, messaging, synced again and closed); ` +
    `its JIT compilers used ${cores} cores round by round (${outcome})`
  );
}

/** Scenario 1: per step and target, what the clients saw, then what it cost the servers. */
export function formatDirectLoad(chat: DirectLoadResult, relay: DirectLoadResult | null): string {
  return formatDirectSteps(
    [chat, ...(relay === null ? [] : [relay])],
    `Scenario 1: cross-node direct messages (${chat.pairs} sender/recipient pairs, sender and recipient on different ` +
      `nodes of ${chat.nodes}; ${chat.stepMs / 1000} s steps after ${warmupText(chat)}; ${chat.textBytes}-byte texts; every message stored)`,
  );
}

function warmupText(result: DirectLoadResult): string {
  return `a ${result.warmup.ms / 1000} s warm-up at ${result.warmup.messagesPerSecond} msg/s`;
}

/** Per step and target of the direct load, what the clients saw, then what it cost the servers; the first result's Redis breakdown. */
export function formatDirectSteps(results: readonly DirectLoadResult[], heading: string): string {
  const [chat] = results;
  if (chat === undefined) return heading;
  const seen = results.flatMap((result) =>
    result.steps.map((step) => [
      result.target,
      step.offeredPerSecond,
      step.sentPerSecond,
      step.ackedPerSecond,
      step.deliveredPerSecond,
      step.ackLatencyMs.p50,
      step.deliveryLatencyMs.p50,
      step.deliveryLatencyMs.p95,
      step.deliveryLatencyMs.p99,
      step.deliveryLatencyMs.max,
      step.undelivered,
      errorsText(step.errors),
      step.saturated === null ? '' : `saturated: ${step.saturated}`,
    ]),
  );
  const cost = results.flatMap((result) => [
    [
      result.target,
      'idle',
      result.idleCpuCores.server,
      result.idleCpuCores.redis,
      result.idleCpuCores.cassandra,
      result.idleCpuCores.generator,
      result.idleCpuCores.other,
    ],
    ...result.steps.map((step) => [
      result.target,
      step.offeredPerSecond,
      step.cpuCores.server,
      step.cpuCores.redis,
      step.cpuCores.cassandra,
      step.cpuCores.generator,
      step.cpuCores.other,
      step.redisCommandsPerMessage,
      step.serverSideMs?.appendMessage,
      step.serverSideMs?.appendMessageP99,
      step.serverSideMs?.busLag,
      step.serverSideMs?.busLagP99,
      step.serverSideMs?.delivery,
      step.serverSideMs?.deliveryP99,
      step.serverSideMs?.eventLoopP99,
      step.serverSideMs?.eventLoopMax,
      step.serverSideMs?.gcPerSecond,
    ]),
  ]);
  const wakeUps = results.flatMap((result) =>
    result.steps.map((step) => [
      result.target,
      step.offeredPerSecond,
      step.wakeUpsPerMessage?.server,
      step.wakeUpsPerMessage?.redis,
      step.wakeUpsPerMessage?.cassandra,
      step.wakeUpsPerMessage?.generator,
      step.runQueueSecondsPerSecond?.server,
      step.runQueueSecondsPerSecond?.redis,
      step.runQueueSecondsPerSecond?.cassandra,
      step.runQueueSecondsPerSecond?.generator,
    ]),
  );
  const firstChatStep = chat.steps[0];
  const redisBreakdown = Object.entries(firstChatStep?.redisCommandsPerMessageByCommand ?? {})
    .filter(([name, perMessage]) => name !== 'info' && perMessage >= 0.05)
    .sort(([, a], [, b]) => b - a)
    .map(([name, perMessage]) => `${name} ${perMessage}`)
    .join(', ');
  return [
    heading,
    table(['target', 'offered/s', 'sent/s', 'acked/s', 'delivered/s', 'ack p50', 'p50', 'p95', 'p99', 'max', 'undelivered', 'errors', 'note'], seen),
    'rates over the step window; latencies in ms on the generator clock (send → ack, send → message frame); undelivered =',
    'sent, not refused, and no message frame by the end of the grace period.',
    '',
    table(['target', 'offered/s', 'cpu server', 'cpu redis', 'cpu cassandra', 'cpu generator', 'cpu other', 'redis cmds/msg', 'node store ms', 'p99', 'node bus lag ms', 'p99', 'node deliver ms', 'p99', 'loop p99 ms', 'loop max ms', 'gc ms/s'], cost),
    'cpu = cores busy on average (idle row = sockets open, nothing sent; server = the chat nodes, the relay or a peer\'s servers; other =',
    'the rest of the machine, e.g. a concurrent test run); redis cmds/msg = every Redis command during the step / acked',
    'messages; node * ms = means of the nodes\' own histograms: Cassandra append_message, inbox entry age when processed',
    '(from accept), accept → frame written, each followed by its p99 over all nodes, from the buckets as Prometheus\'s',
    'histogram_quantile does (the deliver p99 is the part of the p99 above spent inside the nodes); loop = the worst',
    'node\'s event-loop delay during the step; gc = GC pause time of all nodes together per second.',
    '',
    table(['target', 'offered/s', 'wake-ups server', 'wake-ups redis', 'wake-ups cassandra', 'wake-ups generator', 'core wait server', 'core wait redis', 'core wait cassandra', 'core wait generator'], wakeUps),
    'wake-ups = times the group\'s threads went to sleep and were woken again during the step (voluntary context switches in',
    '/proc, summed over its threads) / acked messages. Idle background wake-ups (timers) are in it: between two steps, the',
    'growth of wake-ups a second (per message × rate) is what the added messages cost. core wait = seconds a second the',
    'group\'s threads were ready to run with no core free (run delay in /proc/<pid>/task/*/schedstat, summed over its',
    'threads); beside its cpu above, how much longer its work took because the machine was full.',
    ...(firstChatStep === undefined || redisBreakdown === ''
      ? []
      : [`Redis commands per direct message at ${firstChatStep.offeredPerSecond} msg/s, by command: ${redisBreakdown}`]),
  ].join('\n');
}

/** Scenario 2: memory per idle socket, with the aim; chat first, then the relay and any peers. */
export function formatIdleSockets(chat: IdleSocketsResult, others: readonly IdleSocketsResult[], aimBytes: number): string {
  const rows = [chat, ...others].map((result) => [
    result.target,
    result.opened,
    result.failures,
    result.connectsPerSecond,
    mib(result.baseline.rssBytes),
    mib(result.loaded.rssBytes),
    kib(result.bytesPerSocket.rss),
    kib(result.bytesPerSocket.heapUsed),
    kib(result.bytesPerSocket.external),
    kib(result.residualBytesPerSocket.rss),
    kib(result.residualBytesPerSocket.heapUsed),
    result === chat ? '-' : times(ratio(result.bytesPerSocket.rss, chat.bytesPerSocket.rss)),
    result === chat ? '-' : times(ratio(inUse(result), inUse(chat))),
  ]);
  const verdict = (bytes: number): string => (bytes <= aimBytes ? 'meets' : 'misses');
  return [
    `Scenario 2: idle authenticated sockets on one process (memory after a forced settle: wait, 2 full GCs via the inspector, then the process's own process.memoryUsage())`,
    table(
      ['target', 'sockets', 'failed', 'connects/s', 'rss before', 'rss with', 'rss/socket', 'heap/socket', 'external/socket', 'rss left/socket', 'heap left/socket', 'rss ÷ chat', 'heap+ext ÷ chat'],
      rows,
    ),
    `aim ≤ ${kib(aimBytes)} per idle socket: chat ${verdict(chat.bytesPerSocket.rss)} it on RSS (${kib(chat.bytesPerSocket.rss)}) ` +
      `and ${verdict(inUse(chat))} it on heap+external (${kib(inUse(chat))}).`,
    `"left/socket" = memory still held after every socket closed, over the sockets that had been open (growth there is a leak suspect); "÷ chat" = the target's bytes per socket over chat's (above 1: it holds more).`,
    ...others.flatMap((result) => (result.memoryNote === null ? [] : [`${result.target}: ${result.memoryNote}.`])),
  ].join('\n');
}

/** Memory a socket holds in use: heap and external (for Go, goroutine stacks). */
function inUse(result: IdleSocketsResult): number {
  return result.bytesPerSocket.heapUsed + result.bytesPerSocket.external;
}

/** What each Redis command in a group message's path is for, from reading node/bus/redis-bus.ts and node/chat/delivery.ts. */
const COMMAND_ROLES: Record<string, string> = {
  smembers: 'group-nodes lookup by the sending node (RouteCache.groupNodes), one per message',
  xadd: 'one inbox entry per other node hosting members: the essential cost',
  multi: 'RedisBus.publish wraps each XADD in MULTI/EXEC',
  exec: 'RedisBus.publish wraps each XADD in MULTI/EXEC',
  expire: 'RedisBus.publish refreshes the inbox TTL with every XADD',
  xread: 'each receiving node’s blocking XREAD returns per entry at this rate and is issued again',
  hgetall: 'route-cache lookup of a user’s sessions',
  set: 'idempotency key (claim, complete)',
  eval: 'Lua scripts: heartbeat, route scripts',
  evalsha: 'Lua scripts: heartbeat, route scripts',
  publish: 'pub/sub: presence or typing',
  info: 'the benchmark’s own INFO reads',
};

/** Scenario 3: Redis commands per group message, per command. */
export function formatGroupFanout(result: GroupFanoutResult): string {
  const rows = Object.entries(result.redis.commandsPerMessageByCommand)
    .filter(([, perMessage]) => Math.abs(perMessage) >= 0.05)
    .map(([name, perMessage]) => [
    name,
    perMessage,
    result.redis.measured.byCommand[name] ?? 0,
    result.redis.idle.byCommand[name] ?? 0,
    COMMAND_ROLES[name.split('|')[0] ?? name] ?? '',
  ]);
  const hosting = result.groupNodesInRedis ?? result.nodesWithMembers;
  const perMessage = result.redis.commandsPerMessage;
  const byCommand = result.redis.commandsPerMessageByCommand;
  // The design's own cost: one lookup of the group's nodes, one inbox entry per other node.
  const essential = round((byCommand.smembers ?? 0) + (byCommand.xadd ?? 0), 2);
  const extra = Object.entries(byCommand)
    .filter(([name, calls]) => name !== 'smembers' && name !== 'xadd' && Math.abs(calls) >= 0.05)
    .map(([name, calls]) => `${name} ${calls}`)
    .join(', ');
  return [
    `Scenario 3: a group over ${result.nodesWithMembers} nodes (${result.members} members, ${result.messages} group messages ` +
      `at an even pace; Redis counters over a ${result.intervalMs / 1000} s interval minus the mean of idle intervals of the same length before and after: ` +
      `${result.redis.idleBefore.total} and ${result.redis.idleAfter.total} commands, against ${result.redis.measured.total} with the messages)`,
    `Redis commands per group message: ${perMessage} (nodes hosting members: ${hosting}; aim ≈ ${hosting}; ratio ${times(ratio(perMessage, hosting))})`,
    `  essential (group-nodes lookup + one XADD per other hosting node): ${essential}; the rest: ${round(perMessage - essential, 2)}${extra === '' ? '' : ` (${extra})`}`,
    ...(result.redis.inboxEntriesPerMessage === null
      ? []
      : [
          `  inbox entries the nodes published per message (their chat_bus_published_total): ${result.redis.inboxEntriesPerMessage}, against ${hosting - 1} other hosting nodes; ` +
            'the XADD row counts the watermark markers too, one a node per 50 ms tick while messages flow (a few per message at this pace, a sliver of one at thousands a second)',
        ]),
    // With many sockets the background (session upkeep) is far larger than the messages' cost and drifts; the net figure is then noise.
    `  background: ${round(result.redis.idle.total / result.messages, 1)} idle commands per message sent; when that dwarfs the figure above, read the per-command rows of the commands the messages drive (smembers and hdel: none when idle; xadd and xread: few)`,
    `delivered ${result.deliveries}/${result.deliveriesExpected} member frames, ${result.duplicates} duplicates, acked ${result.acked}/${result.messages}, ` +
      `errors ${errorsText(result.errors)}; set up in ${round(result.setupMs.open / 1000, 1)} s (open) + ${round(result.setupMs.join / 1000, 1)} s (join)`,
    table(
      ['latency (ms)', 'count', 'p50', 'p95', 'p99', 'max'],
      [
        ['send → each member', result.deliveryLatencyMs.count, result.deliveryLatencyMs.p50, result.deliveryLatencyMs.p95, result.deliveryLatencyMs.p99, result.deliveryLatencyMs.max],
        ['send → all members', result.allMembersLatencyMs.count, result.allMembersLatencyMs.p50, result.allMembersLatencyMs.p95, result.allMembersLatencyMs.p99, result.allMembersLatencyMs.max],
        ...(result.nodeDeliveryLatencyMs === null
          ? []
          : [['accepted → handed to all local members, nodes', result.nodeDeliveryLatencyMs.count, result.nodeDeliveryLatencyMs.p50, '-', result.nodeDeliveryLatencyMs.p99, '-']]),
      ],
    ),
    '"all members" = per message, until the last member\'s frame, over the messages every member got (count). "nodes" = the nodes\' own clock ' +
      '(chat_delivery_latency_seconds): each node times a message once, when it has handed the frame to all its local members, and counts it for each; ' +
      'estimated within the histogram\'s buckets (100, 250, 500 ms, 1 s), so it can pass the generator\'s figure.',
    ...groupCpuLines(result),
    table(['command', 'per message', 'calls (messages)', 'calls (idle, mean)', 'what it is'], rows),
    'commands within ±0.05 per message of the idle interval (heartbeats, timers) are left out here; the JSON has them all.',
  ].join('\n');
}

/** Issue 16's aim for a message to reach every member of the 10,000-member group (p99). */
const GROUP_AIM_MS = 150;

/**
 * What a group message cost each part in CPU, and what that is per member frame for the
 * processes that handle each frame (the nodes and the generator), each on one thread: the
 * work a message puts on the way to its last member, beside the aim.
 */
function groupCpuLines(result: GroupFanoutResult): string[] {
  const cpu = result.cpuMsPerMessage;
  if (cpu === null) return [];
  const members = result.members - 1;
  const perMember = (ms: number): string => `${round((ms * 1000) / members, 1)} µs a member`;
  const parts = Object.entries(cpu)
    .filter(([name]) => name !== 'machine')
    .map(([name, ms]) => {
      if (name === 'server') return `nodes ${ms} ms (${round(ms / result.nodesWithMembers, 1)} each of ${result.nodesWithMembers}; ${perMember(ms)})`;
      return name === 'generator' ? `generator ${ms} ms (${perMember(ms)})` : `${name} ${ms} ms`;
    });
  return [
    `CPU per group message (the messages' interval less the idle intervals' mean, per message): ${parts.join(', ')}; the machine ${cpu.machine ?? '-'} ms. ` +
      `Each node and the generator is one thread, and each of its member frames is a socket write or read: its share is work on the way to the last member (aim: p99 ${GROUP_AIM_MS} ms)`,
  ];
}

/**
 * Scenario 3's group beside the same group on a peer (members in a room over its servers, the
 * same generator and Redis): what each member and the last member saw, and Redis's share.
 */
export function formatGroupPeers(results: readonly (readonly [string, GroupFanoutResult])[]): string {
  const rows = results.map(([target, result]) => [
    target,
    result.members,
    result.nodesWithMembers,
    `${result.acked}/${result.messages}`,
    `${result.deliveries}/${result.deliveriesExpected}`,
    result.duplicates,
    errorsText(result.errors),
    result.deliveryLatencyMs.p50,
    result.deliveryLatencyMs.p99,
    result.allMembersLatencyMs.p50,
    result.allMembersLatencyMs.p99,
    result.allMembersLatencyMs.max,
    result.redis.commandsPerMessage,
    result.cpuMsPerMessage?.server,
    result.cpuMsPerMessage?.generator,
    result.cpuMsPerMessage?.machine,
  ]);
  const [first, ...others] = results;
  const ratios =
    first === undefined
      ? []
      : others.map(
          ([target, result]) =>
            `  ${first[0]} / ${target}: p99 to each member ${times(ratio(first[1].deliveryLatencyMs.p99, result.deliveryLatencyMs.p99))}, ` +
            `p99 to all members ${times(ratio(first[1].allMembersLatencyMs.p99, result.allMembersLatencyMs.p99))}`,
        );
  return [
    "Scenario 3's group on the peers (the same members, messages and pace, each peer on as many servers as chat's nodes over the same Redis, measured after the chat nodes stopped)",
    table(
      ['target', 'members', 'servers', 'acked', 'delivered', 'dup', 'errors', 'each p50 ms', 'each p99', 'all p50', 'all p99', 'all max', 'redis cmds/msg', 'server ms/msg', 'generator ms/msg', 'machine ms/msg'],
      rows,
    ),
    ...ratios,
    '  redis cmds/msg: all commands over the messages\' interval less the idle mean, per message; with many sockets the idle background (session upkeep) drifts by more than a message costs (see scenario 3)',
    "  server, generator, machine ms/msg: CPU over the messages' interval less the idle intervals' mean, per message; server: the target's servers (chat's nodes), without Redis or Cassandra",
  ].join('\n');
}

/** The highest common offered rate at which neither target saturated. */
function comparableSteps(chat: DirectLoadResult, relay: DirectLoadResult): [DirectStep, DirectStep][] {
  return chat.steps.flatMap((ours) => {
    const peer = relay.steps.find((step) => step.offeredPerSecond === ours.offeredPerSecond);
    return peer === undefined ? [] : [[ours, peer] as [DirectStep, DirectStep]];
  });
}

/** Our figures as ratios to the relay's, measured in the same run. */
export interface Comparison {
  peakDelivered: { chat: number; relay: number; ratio: number | null };
  byRate: {
    offeredPerSecond: number;
    delivered: { chat: number; relay: number; ratio: number | null };
    p50: { chat: number | null; relay: number | null; ratio: number | null };
    p99: { chat: number | null; relay: number | null; ratio: number | null };
    serverCoresPer1000: { chat: number | null; relay: number | null; ratio: number | null };
  }[];
  idleSocket: {
    rss: { chat: number; relay: number; ratio: number | null };
    heapUsed: { chat: number; relay: number; ratio: number | null };
    connectsPerSecond: { chat: number; relay: number; ratio: number | null };
  } | null;
}

/** Server-side cores of a measurement: chat nodes (or the relay, or a peer's servers) + Redis + Cassandra. */
/** The CPU groups that are the servers' side: the target's processes, and its stores. */
const SERVER_SIDE = ['server', 'cassandra', 'redis'] as const;

function serverCores(cpuCores: Record<string, number>): number {
  return SERVER_SIDE.reduce((sum, group) => sum + (cpuCores[group] ?? 0), 0);
}

/** Server-side cores per 1000 delivered msg/s. */
export function coresPer1000(step: DirectStep): number | null {
  if (step.deliveredPerSecond === 0) return null;
  return round((serverCores(step.cpuCores) / step.deliveredPerSecond) * 1000, 3);
}

export function compare(chat: DirectLoadResult, relay: DirectLoadResult, chatIdle: IdleSocketsResult | null, relayIdle: IdleSocketsResult | null): Comparison {
  const pair = <T extends number | null>(ours: T, peer: T): { chat: T; relay: T; ratio: number | null } => ({ chat: ours, relay: peer, ratio: ratio(ours, peer) });
  return {
    peakDelivered: pair(chat.peakDeliveredPerSecond, relay.peakDeliveredPerSecond),
    byRate: comparableSteps(chat, relay).map(([ours, peer]) => ({
      offeredPerSecond: ours.offeredPerSecond,
      delivered: pair(ours.deliveredPerSecond, peer.deliveredPerSecond),
      p50: pair(ours.deliveryLatencyMs.p50, peer.deliveryLatencyMs.p50),
      p99: pair(ours.deliveryLatencyMs.p99, peer.deliveryLatencyMs.p99),
      serverCoresPer1000: pair(coresPer1000(ours), coresPer1000(peer)),
    })),
    idleSocket:
      chatIdle === null || relayIdle === null
        ? null
        : {
            rss: pair(chatIdle.bytesPerSocket.rss, relayIdle.bytesPerSocket.rss),
            heapUsed: pair(chatIdle.bytesPerSocket.heapUsed, relayIdle.bytesPerSocket.heapUsed),
            connectsPerSecond: pair(chatIdle.connectsPerSecond, relayIdle.connectsPerSecond),
          },
  };
}

export function formatComparison(comparison: Comparison): string {
  const lines = [
    'Against the peer (a plain in-process ws relay: no auth, no storage, no bus), same generator, same run:',
    `  peak delivered msg/s: ${comparison.peakDelivered.chat} vs relay ${comparison.peakDelivered.relay} (${times(comparison.peakDelivered.ratio)})`,
  ];
  for (const row of comparison.byRate) {
    lines.push(
      `  at ${row.offeredPerSecond} msg/s offered: delivered ${row.delivered.chat} vs ${row.delivered.relay} (${times(row.delivered.ratio)}); ` +
        `p50 ${row.p50.chat ?? '-'} vs ${row.p50.relay ?? '-'} ms (${times(row.p50.ratio)}); p99 ${row.p99.chat ?? '-'} vs ${row.p99.relay ?? '-'} ms (${times(row.p99.ratio)}); ` +
        `server cores per 1000 msg/s ${row.serverCoresPer1000.chat ?? '-'} vs ${row.serverCoresPer1000.relay ?? '-'} (${times(row.serverCoresPer1000.ratio)})`,
    );
  }
  const idle = comparison.idleSocket;
  if (idle !== null) {
    lines.push(
      `  memory per idle socket: RSS ${kib(idle.rss.chat)} vs relay ${kib(idle.rss.relay)} (${times(idle.rss.ratio)}); ` +
        `heap ${kib(idle.heapUsed.chat)} vs relay ${kib(idle.heapUsed.relay)} (${times(idle.heapUsed.ratio)})`,
      `  socket opening rate: ${idle.connectsPerSecond.chat}/s vs relay ${idle.connectsPerSecond.relay}/s (${times(idle.connectsPerSecond.ratio)})`,
    );
  }
  return lines.join('\n');
}

/** The reconnect storm: how long the drained node's clients took to be back and synced, and whether any message was lost. */
export function formatStorm(result: StormResult): string {
  const rows = [
    ['drain → first connect attempt', result.firstAttemptMs.count, result.firstAttemptMs.p50, result.firstAttemptMs.p95, result.firstAttemptMs.p99, result.firstAttemptMs.max],
    ['drain → connected on a survivor', result.reconnectMs.count, result.reconnectMs.p50, result.reconnectMs.p95, result.reconnectMs.p99, result.reconnectMs.max],
    ['drain → caught up', result.reconnectAndSyncMs.count, result.reconnectAndSyncMs.p50, result.reconnectAndSyncMs.p95, result.reconnectAndSyncMs.p99, result.reconnectAndSyncMs.max],
  ];
  const codes = Object.entries(result.closeCodes).map(([code, count]) => `${code}:${count}`).join(' ');
  const messages = result.messages;
  const storeOperations = Object.entries(result.storeOperations);
  return [
    `Reconnect storm on ${result.target}: one node with ${result.opened} sockets (of ${result.sockets}; ${result.openFailures} did not open; opened and caught up in ${round(result.openMs / 1000, 1)} s) ` +
      `is drained (${result.drainHow}); each client reconnects to one of ${result.survivors} other nodes and catches up: ${result.catchUpHow}`,
    `back and caught up: ${result.backAndSynced}, failed: ${result.failed}${result.firstFailure === null ? '' : ` (first: ${result.firstFailure})`}; ` +
      `${result.notRecovered} of those back had a catch-up ${result.target} did not vouch for; ` +
      `all back and caught up ${round(result.totalMs / 1000, 2)} s after the drain began; the drained node ` +
      (result.drainedExitMs === null ? 'had not exited when the scenario ended' : `exited ${round(result.drainedExitMs / 1000, 2)} s after it`),
    // Drain frames and sync pages are chat's; a peer has neither.
    (result.drainFrames > 0 ? `drain frames ${result.drainFrames} (reconnectAfterMs up to ${result.reconnectAfterMsMax}); ` : '') +
      `how the drained connections ended ${codes === '' ? '-' : codes}; connect attempts ${result.attempts} (${result.retried} clients retried); ` +
      (result.syncPages > 0 ? `sync pages ${result.syncPages}; ` : '') +
      `messages caught up ${result.messagesInSync}; ` +
      `connections dropped by the kernel for a full accept queue: ${result.listenOverflows ?? 'not readable'}` +
      (result.redisClientMemory === undefined ? '' : `; ${redisClientMemoryText(result.redisClientMemory)}`),
    table(['per client (ms)', 'count', 'p50', 'p95', 'p99', 'max'], rows),
    `cores used from the drain until all were caught up (this machine has ${availableParallelism()}; server: the survivors): ` +
      Object.entries(result.cpuCores)
        .map(([group, cores]) => `${group} ${cores}`)
        .join(', '),
    stormServerCost(result),
    ...(storeOperations.length === 0
      ? []
      : [
          'store calls on the survivors per client back and synced (mean ms each; failed attempts\' calls included, put_session also counts the survivors\' ' +
            'session refreshes, sync counts pages): ' +
            storeOperations.map(([operation, { perClient, meanMs }]) => `${operation} ${perClient} (${meanMs ?? '-'} ms)`).join(', '),
        ]),
    `the generator's own event-loop delay meanwhile: p50 ${result.generatorLagMs.p50} ms, p99 ${result.generatorLagMs.p99} ms, max ${result.generatorLagMs.max} ms ` +
      '(its clients read what the nodes sent that much later)',
    'over time (each row: what happened in the 5 s from its start):',
    stormTimeline(result.timeline),
    ...Object.entries(result.failureExamples).map(([kind, message]) => `  first ${kind}: ${message}`),
    messages === null
      ? 'no direct-message load ran during the storm.'
      : `direct messages to the storm's users during it (${messages.perSecond}/s from senders on the survivors): sent ${messages.sent}, acked ${messages.acked}, ` +
        `errors ${errorsText(messages.errors)}; of the acked: received live ${messages.receivedLive}, only in a catch-up ${messages.receivedBySyncOnly}, LOST ${messages.lost}` +
        (messages.unverified === 0 ? '' : `; ${messages.unverified} more were to clients that never came back, so neither seen nor lost`) +
        (messages.lostExamples.length === 0
          ? ''
          : '\n  first lost (ms after the drain began): ' +
            messages.lostExamples.map((lost) => `#${lost.seq} sent at ${lost.sentMs}, its recipient left at ${lost.recipientLeftMs ?? '-'} and was back at ${lost.recipientBackMs ?? '-'}`).join('; ')),
  ].join('\n');
}

function redisClientMemoryText(bound: NonNullable<StormResult['redisClientMemory']>): string {
  return `Redis's clients held to ${round(bound.limitBytes / 1024 ** 3, 1)} GiB of buffers (maxmemory-clients), ${bound.clientsEvicted} connections closed to stay under it`;
}

/** The storm's steps; the opening's phases only where the target's client times them (chat's). */
function stormTimeline(steps: readonly StormStep[]): string {
  const timed = steps.some((step) => step.openingMedianMs !== null);
  return table(
    ['s after the drain', 'connected', 'caught up', 'failed attempts', ...(timed ? ['median ms to connect / upgrade / hello'] : [])],
    steps.map((step) => {
      const opening = step.openingMedianMs;
      const parts = opening === null ? '-' : `${opening.connect} / ${opening.upgrade} / ${opening.hello}`;
      return [step.atMs / 1000, step.hellos, step.synced, errorsText(step.failures), ...(timed ? [parts] : [])];
    }),
  );
}

/** The storm on chat and on each peer, side by side: how fast all came back, what it cost, and what was lost. */
export function formatStormPeers(results: readonly StormResult[]): string {
  const chat = results.find((result) => result.target === 'chat');
  const rows = results.map((result) => {
    const perClientMs = stormServerMsPerClient(result);
    return [
      result.target,
      `${result.backAndSynced}/${result.opened}`,
      result.notRecovered,
      round(result.totalMs / 1000, 1),
      result.reconnectMs.p99,
      result.reconnectAndSyncMs.p50,
      result.reconnectAndSyncMs.p99,
      perClientMs === null ? '-' : round(perClientMs, 2),
      result.messages === null ? '-' : `${result.messages.acked}`,
      result.messages === null ? '-' : result.messages.lost,
      result.target === 'chat' || chat === undefined ? '-' : times(ratio(result.reconnectAndSyncMs.p99, chat.reconnectAndSyncMs.p99)),
    ];
  });
  const servers = (results[0]?.survivors ?? 0) + 1;
  return [
    `The reconnect storm on chat and the peers (each on ${servers} servers over the same Redis, the last drained; the same clients, load and deadline; the peers' after the chat nodes stopped)`,
    table(['target', 'back', 'not vouched', 'all back s', 'connected p99 ms', 'caught up p50', 'caught up p99', 'server ms/client', 'acked', 'lost', 'p99 ÷ chat'], rows),
    ...results.flatMap((result) => (result.redisClientMemory === undefined ? [] : [`  ${result.target}: ${redisClientMemoryText(result.redisClientMemory)}`])),
    '  back = back and caught up / sockets drained; not vouched = back, but the target did not say its catch-up was complete (a recovery that failed, or none to try); ' +
      'server ms/client = survivors\' CPU (with Redis, and Cassandra for chat) from the drain until all were back, per client back; ' +
      'lost = acked messages to clients that came back, seen neither live nor in their catch-up; "÷ chat" above 1: slower than chat',
    '  acked means: chat, stored in Cassandra; Socket.IO, taken by the sender\'s server (its reply comes before the adapter\'s XADD); ' +
      'Centrifugo, published (with history, once in the channel\'s history stream)',
  ].join('\n');
}
/**
 * What one client's reconnect and sync cost the servers (the survivors, Cassandra, Redis) in
 * CPU, and so how many cores a storm of this size would need to be over within 2 s (the
 * issue's aim): the limit beside the aim on a machine this storm keeps busy.
 */
function stormServerCost(result: StormResult): string {
  const perClientMs = stormServerMsPerClient(result);
  if (perClientMs === null) return 'server CPU per reconnect: not measured';
  const coresFor2s = (perClientMs * result.backAndSynced) / 2_000;
  const parts = ['survivors', ...SERVER_SIDE.filter((group) => group !== 'server' && result.cpuCores[group] !== undefined)].join(' + ');
  return (
    `server CPU per client back and caught up (${parts}): ${round(perClientMs, 2)} ms; ` +
    `${result.backAndSynced} clients back and caught up within 2 s would need ${round(coresFor2s, 1)} cores of it`
  );
}

/** The servers' CPU ms (survivors, Cassandra, Redis) per client back and caught up; null when none came back or nothing was measured. */
function stormServerMsPerClient(result: StormResult): number | null {
  const perClient = cpuMsEach({ cores: result.cpuCores, seconds: result.cpuSeconds }, result.backAndSynced);
  const serverMs = perClient === null ? 0 : serverCores(perClient);
  return serverMs === 0 ? null : serverMs;
}

/** Issue 16's aim for one node's opening rate, against which the report sets what an open costs. */
const OPENS_AIM_PER_SECOND = 3_000;

/** Socket opening rate on one process, chat beside the relay. */
export function formatOpenRate(steps: readonly OpenRateStep[]): string {
  return [
    'Socket opening rate on one process (chat: JWT in the Authorization header, verified, session registered, hello received; relay: no auth, hello received; ' +
      "with peers, one server of each: Socket.IO's handshake answered, no auth; Centrifugo's JWT verified and the user's personal channel subscribed)",
    table(
      ['target', 'in flight', 'opened', 'failed', 'opens/s', 'open p50 ms', 'p95', 'p99', 'max', 'opens/s ÷ chat', 'server ms/open', 'generator ms/open', 'machine cores'],
      steps.map((step) => {
        const chat = steps.find((other) => other.target === 'chat' && other.concurrency === step.concurrency);
        const versusChat = step.target === 'chat' ? '-' : times(ratio(step.opensPerSecond, chat?.opensPerSecond));
        const cost = openCost(step);
        return [
          step.target,
          step.concurrency,
          step.opened,
          step.failures,
          step.opensPerSecond,
          step.openMs.p50,
          step.openMs.p95,
          step.openMs.p99,
          step.openMs.max,
          versusChat,
          cost?.serverMs,
          cost?.generatorMs,
          step.cpuCores?.machine,
        ];
      }),
    ),
    'opens/s = sockets opened / time for the whole batch; sockets closed after each row; the chat and Centrifugo times include minting the JWT in the generator; ' +
      '"÷ chat" = the target\'s rate over chat\'s with as many in flight (above 1: it opens faster); ' +
      "server ms/open = the CPU of the target's processes (all of its servers, with Redis for chat and the peers, and Cassandra for chat) while the batch opened, " +
      'over what they used at rest just before (once the previous batch had been taken down), per socket opened; generator ms/open the same for the process ' +
      'opening them; machine cores = all of the machine busy meanwhile',
    ...openAimCost(steps),
  ].join('\n');
}

/** What an open cost the server side (its groups' CPU summed) and the generator, in CPU ms; undefined when not measured. */
function openCost(step: OpenRateStep): { serverMs: number; generatorMs: number | undefined } | undefined {
  const perOpen = step.cpuMsPerOpen;
  if (perOpen === null) return undefined;
  return { serverMs: round(serverCores(perOpen), 3), generatorMs: perOpen.generator };
}

/**
 * The limit beside issue 16's aim of 3,000 opens a second on one node: the cores chat's
 * server side would need for it at what an open cost in its row with the most in flight, by
 * part; the generator's share (the test's client, not the service) beside it.
 */
function openAimCost(steps: readonly OpenRateStep[]): string[] {
  const chat = steps.filter((step) => step.target === 'chat' && step.cpuMsPerOpen !== null).sort((a, b) => b.concurrency - a.concurrency)[0];
  const perOpen = chat?.cpuMsPerOpen;
  const cost = chat === undefined ? undefined : openCost(chat);
  if (chat === undefined || perOpen == null || cost === undefined) return [];
  const parts = SERVER_SIDE.filter((group) => perOpen[group] !== undefined).map((group) => `${group === 'server' ? 'nodes' : group} ${perOpen[group]}`);
  const generator = cost.generatorMs === undefined ? '' : `; the generator opening them, ${round((cost.generatorMs * OPENS_AIM_PER_SECOND) / 1000, 1)} more`;
  return [
    `chat at ${chat.concurrency} in flight: ${cost.serverMs} ms of server CPU per socket opened over what it used at rest (${parts.join(', ')}); ` +
      `${OPENS_AIM_PER_SECOND.toLocaleString('en')} opens a second would need ${round((cost.serverMs * OPENS_AIM_PER_SECOND) / 1000, 1)} cores of it${generator}; ` +
      `the machine was ${chat.cpuCores?.machine ?? '-'} cores busy opening ${chat.opensPerSecond} a second`,
  ];
}
