import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { designFloor, floorRate, formatDesignFloor } from '../bench/design-floor.js';
import type { DirectLoadResult, DirectStep } from '../bench/direct-load.js';
import { cpuPerMessage, type GroupFanoutResult } from '../bench/group-fanout.js';
import type { CassandraWriteLimits } from '../bench/limits/cassandra-writes.js';
import type { ClosedLoopResult } from '../bench/limits/closed-loop.js';
import { formatLimits } from '../bench/limits/report.js';
import { stepOf } from '../bench/limits/socket-writes.js';
import type { RedisStreamLimits } from '../bench/limits/redis-streams.js';
import { comparePeers, formatPeers } from '../bench/peers/report.js';
import type { IdleSocketsResult } from '../bench/idle-sockets.js';
import type { MemorySample } from '../bench/process-figures.js';
import type { OpenRateStep } from '../bench/open-rate.js';
import type { StormResult } from '../bench/reconnect-storm.js';
import { formatDirectSteps, formatGroupFanout, formatGroupPeers, formatIdleSockets, formatOpenRate, formatStorm, formatStormPeers, formatStoreWarmUp } from '../bench/report.js';
import { CpuMeter, growthBetween, voluntarySwitches, wakeUpsByThread } from '../bench/process-figures.js';
import { perMessage, type Percentiles } from '../bench/statistics.js';

function latency(p50: number | null, p99: number | null): Percentiles {
  return { count: p50 === null ? 0 : 100, p50, p95: p99, p99, max: p99 };
}

/** One step of the direct load; only what the peers' report reads differs between steps. */
function step(
  offeredPerSecond: number,
  deliveredPerSecond: number,
  [p50, p99]: [number | null, number | null],
  cpuCores: Record<string, number>,
  saturated: string | null = null,
  wakeUpsPerMessage: Record<string, number> | null = null,
  runQueueSecondsPerSecond?: Record<string, number>,
): DirectStep {
  return {
    offeredPerSecond,
    sent: offeredPerSecond * 10,
    sentPerSecond: offeredPerSecond,
    heldBack: 0,
    ackedPerSecond: deliveredPerSecond,
    deliveredPerSecond,
    acked: deliveredPerSecond * 10,
    delivered: deliveredPerSecond * 10,
    undelivered: 0,
    duplicates: 0,
    ackLatencyMs: latency(p50, p99),
    deliveryLatencyMs: latency(p50, p99),
    errors: {},
    socketsClosed: 0,
    cpuCores,
    redisCommandsPerMessage: null,
    redisCommandsPerMessageByCommand: null,
    wakeUpsPerMessage,
    ...(runQueueSecondsPerSecond === undefined ? {} : { runQueueSecondsPerSecond }),
    serverSideMs: null,
    saturated,
  };
}

function result(target: string, steps: DirectStep[]): DirectLoadResult {
  return {
    target,
    pairs: 100,
    nodes: 3,
    stepMs: 10_000,
    textBytes: 64,
    warmup: { ms: 30_000, messagesPerSecond: 500 },
    idleCpuCores: {},
    steps,
    peakDeliveredPerSecond: Math.max(...steps.map((candidate) => candidate.deliveredPerSecond)),
  };
}

// Chat saturates at 2000 msg/s offered and so never runs the 4000 step.
const chat = result('chat', [
  // Server cores 0.6 + 0.2 + 0.4 = 1.2 for 1000 msg/s: 1.2 cores per 1000.
  step(1000, 1000, [4, 20], { server: 0.6, redis: 0.2, cassandra: 0.4, generator: 0.5, other: 0.1 }),
  // 2.4 cores for 1500 msg/s: 1.6 cores per 1000.
  step(2000, 1500, [50, 400], { server: 1.2, redis: 0.3, cassandra: 0.9, generator: 0.8 }, 'delivered 75 % of offered'),
]);
const relay = result('relay', [
  step(1000, 1000, [1, 3], { server: 0.15, generator: 0.5 }),
  step(2000, 2000, [1.2, 6], { server: 0.28, generator: 0.9 }),
  step(4000, 3990, [2, 9], { server: 0.6, generator: 1 }),
]);
// Delivered nothing: no latency, no cost per message.
const centrifugo = result('centrifugo', [step(1000, 0, [null, null], { server: 0.05, redis: 0.01 }, 'nothing delivered')]);

/** The cells of `target`'s row in the table under `At <rate> msg/s offered`, by column heading. */
function rowOf(report: string, offeredPerSecond: number, target: string): Record<string, string> {
  const section = report.split('\n\n').find((candidate) => candidate.startsWith(`At ${offeredPerSecond} msg/s offered\n`));
  if (section === undefined) throw new Error(`no section for ${offeredPerSecond} msg/s in:\n${report}`);
  const [, headerLine = '', , ...rows] = section.split('\n');
  const headers = headerLine.split(/ {2,}/);
  const row = rows.find((line) => line.split(/ {2,}/)[0] === target);
  if (row === undefined) throw new Error(`no row for ${target} at ${offeredPerSecond} msg/s in:\n${section}`);
  const cells = row.split(/ {2,}/);
  return Object.fromEntries(headers.map((header, column) => [header, cells[column] ?? '']));
}

describe('the peers report', () => {
  const comparison = comparePeers([chat, relay, centrifugo]);
  const report = formatPeers(comparison, 100, 10);

  it('lines every target up by offered rate, in the order they ran', () => {
    expect(comparison.targets).toEqual(['chat', 'relay', 'centrifugo']);
    expect(comparison.byRate.map((rate) => rate.offeredPerSecond)).toEqual([1000, 2000, 4000]);
    expect(Object.keys(comparison.byRate[0]?.targets ?? {})).toEqual(['chat', 'relay', 'centrifugo']);
    expect(Object.keys(comparison.byRate[2]?.targets ?? {})).toEqual(['relay']);
  });

  it('divides each peer figure by chat’s at the same rate, to 3 significant digits', () => {
    const relayAt2000 = comparison.byRate[1]?.targets.relay;
    // 2000 / 1500, 1.2 / 50, 6 / 400, and 0.14 / 1.6 cores per 1000 msg/s.
    expect(relayAt2000?.vsChat).toEqual({ delivered: 1.33, p50: 0.024, p99: 0.015, coresPer1000: 0.0875 });
    // The relay's 4000 step has no chat step beside it.
    expect(comparison.byRate[2]?.targets.relay?.vsChat).toEqual({ delivered: null, p50: null, p99: null, coresPer1000: null });
    // Chat is not compared with itself.
    expect(comparison.byRate[0]?.targets.chat?.vsChat).toEqual({ delivered: null, p50: null, p99: null, coresPer1000: null });
  });

  it('counts Redis and Cassandra in a target’s server cores, and not the generator or the rest of the machine', () => {
    expect(comparison.byRate[0]?.targets.chat).toMatchObject({ serverCores: 1.2, coresPer1000: 1.2, otherCores: 0.1 });
    expect(comparison.byRate[1]?.targets.chat).toMatchObject({ serverCores: 2.4, coresPer1000: 1.6, otherCores: null });
    expect(comparison.byRate[0]?.targets.centrifugo).toMatchObject({ serverCores: 0.06, coresPer1000: null });
  });

  it('prints chat and each peer side by side with the ratios to chat', () => {
    expect(rowOf(report, 1000, 'chat')).toMatchObject({ 'delivered/s': '1000', 'p50 ms': '4', 'p99 ms': '20', 'server cores': '1.2', 'delivered ÷ chat': '-' });
    expect(rowOf(report, 1000, 'relay')).toMatchObject({
      'delivered/s': '1000',
      'cores/1000 msg/s': '0.15',
      'delivered ÷ chat': '1x',
      'p50 ÷ chat': '0.25x',
      'p99 ÷ chat': '0.15x',
      'cores/msg ÷ chat': '0.125x',
    });
    expect(rowOf(report, 2000, 'relay')).toMatchObject({ 'delivered ÷ chat': '1.33x', 'p99 ÷ chat': '0.015x', 'cores/msg ÷ chat': '0.0875x' });
  });

  it('marks a saturated step with its reason, and a target that stopped before a rate as not run', () => {
    expect(rowOf(report, 2000, 'chat').note).toBe('saturated: delivered 75 % of offered');
    expect(rowOf(report, 2000, 'relay').note).toBe('');
    expect(rowOf(report, 4000, 'chat')).toMatchObject({ 'delivered/s': '-', 'delivered ÷ chat': '-', note: 'not run at this rate (an earlier step saturated)' });
    expect(rowOf(report, 4000, 'centrifugo').note).toBe('not run at this rate (an earlier step saturated)');
  });

  it('prints a step that delivered nothing with dashes for what could not be measured', () => {
    expect(rowOf(report, 1000, 'centrifugo')).toMatchObject({
      'delivered/s': '0',
      'p50 ms': '-',
      'p99 ms': '-',
      'cores/1000 msg/s': '-',
      'delivered ÷ chat': '0x',
      'p50 ÷ chat': '-',
      note: 'saturated: nothing delivered',
    });
  });

  it('sums up each target’s peak with its ratio to chat’s peak', () => {
    // 3990 / 1500 = 2.66.
    expect(report).toContain('peak delivered msg/s: chat 1500, relay 3990 (2.66x), centrifugo 0 (0x)');
    expect(report).toContain('(100 pairs, sender and recipient on different servers of 3, 10 s steps)');
  });

  it('leaves out a peer that could not be measured and still compares the rest', () => {
    // The bench passes only the results it has: a failed peer is absent, its reason printed by the caller.
    const withoutCentrifugo = formatPeers(comparePeers([chat, relay]), 100, 10);
    expect(withoutCentrifugo).not.toContain('centrifugo 0');
    expect(() => rowOf(withoutCentrifugo, 1000, 'centrifugo')).toThrow(/no row for centrifugo/);
    expect(rowOf(withoutCentrifugo, 1000, 'relay')['delivered ÷ chat']).toBe('1x');
  });

  it('prints the peers without ratios when chat did not run', () => {
    const peersOnly = comparePeers([relay, centrifugo]);
    expect(peersOnly.byRate[0]?.targets.relay?.vsChat).toEqual({ delivered: null, p50: null, p99: null, coresPer1000: null });
    const text = formatPeers(peersOnly, 100, 10);
    expect(rowOf(text, 1000, 'relay')).toMatchObject({ 'delivered/s': '1000', 'delivered ÷ chat': '-', 'cores/msg ÷ chat': '-' });
    expect(text).toContain('peak delivered msg/s: relay 3990, centrifugo 0\n');
  });
});

/** A 10 s closed loop's figures, without its errors. */
function closedLoop(concurrency: number, perSecond: number, [p50, p99]: [number, number]): Omit<ClosedLoopResult, 'errors'> {
  return { concurrency, seconds: 10, completed: perSecond * 10, perSecond, latencyMs: latency(p50, p99) };
}

const cassandra: CassandraWriteLimits = {
  textBytes: 64,
  steps: [
    { ...closedLoop(64, 2400, [20, 80]), path: 'statements', requestsPerSecond: 9600, requestsPerMessage: 4, errors: {}, cpuCores: { cassandra: 1.6, generator: 0.4, other: 0.1 } },
    { ...closedLoop(64, 2600, [18, 70]), path: 'store', requestsPerSecond: 7800, requestsPerMessage: 3, errors: { 'Operation timed out': 3 }, cpuCores: { cassandra: 1.7, generator: 0.5 } },
  ],
  peakMessagesPerSecond: { statements: 2400, store: 2600 },
  paced: [
    {
      offeredPerSecond: 50,
      seconds: 10,
      completed: 500,
      perSecond: 50,
      heldBack: 0,
      unfinished: 0,
      latencyMs: latency(1.5, 4),
      errors: {},
      cpuCores: { cassandra: 0.3, generator: 0.02 },
      cassandraCoresPer1000: 6,
    },
    {
      offeredPerSecond: 2000,
      seconds: 10.2,
      completed: 19_000,
      perSecond: 1862.7,
      heldBack: 1000,
      unfinished: 12,
      latencyMs: latency(40, 900),
      errors: { 'Operation timed out': 2 },
      cpuCores: { cassandra: 0.9, generator: 0.3 },
      cassandraCoresPer1000: 0.483,
    },
  ],
  idleCpuCores: { cassandra: 0.04, generator: 0 },
};

const redis: RedisStreamLimits = {
  nodes: 3,
  entryBytes: 420,
  xadd: [{ ...closedLoop(96, 85_000, [1.1, 4.2]), errors: {}, inFlightPerConnection: 32, cpuCores: { redis: 0.9, generator: 1, other: 0.05 } }],
  xread: { readers: 3, seconds: 5, reads: 20_000, entries: 2_000_000, entriesPerSecond: 400_000, readsPerSecond: 4000, cpuCores: { redis: 0.8 } },
  through: { xaddPerSecond: 60_000, entriesReadPerSecond: 59_800, entryAgeMs: latency(2, null), cpuCores: { redis: 0.95, generator: 1 } },
  peakXaddPerSecond: 85_000,
};

/** The data rows (after heading and rule) of the table whose heading starts with `firstHeader`, split into cells. */
function tableRows(report: string, firstHeader: string): string[][] {
  const lines = report.split('\n');
  const start = lines.findIndex((line) => line.startsWith(firstHeader));
  if (start === -1) throw new Error(`no table headed ${firstHeader} in:\n${report}`);
  const end = lines.findIndex((line, index) => index > start && line === '');
  return lines.slice(start + 2, end === -1 ? undefined : end).map((line) => line.trimStart().split(/ {2,}/));
}

describe('the limits report', () => {
  const report = formatLimits(cassandra, redis);

  it('shows each Cassandra write path’s rate, requests, latency and errors, and the peaks', () => {
    expect(report).toContain('one stored direct message with a 64-byte text');
    expect(tableRows(report, 'path')).toEqual([
      ['statements', '64', '2400', '9600', '4', '20', '80', '1.6', '0.4', '0.1', '-'],
      ['store', '64', '2600', '7800', '3', '18', '70', '1.7', '0.5', '-', '3× Operation timed out'],
    ]);
    expect(report).toContain('Peak: statements 2400 messages/s, store 2600 messages/s.');
  });

  it('shows what Cassandra alone costs per message at each steady offered rate', () => {
    expect(report).toContain('Cassandra at steady offered rates');
    expect(tableRows(report, 'offered msg/s')).toEqual([
      ['50', '50', '0', '0', '1.5', '4', '0.3', '6', '0.02', '-'],
      ['2000', '1862.7', '1000', '12', '40', '900', '0.9', '0.483', '0.3', '2× Operation timed out'],
    ]);
    expect(report).toContain('Idle just before (nothing written): cpu cassandra 0.04, generator 0.');
  });

  it('leaves the steady-rate table out when no rate was asked for', () => {
    expect(formatLimits({ ...cassandra, paced: [], idleCpuCores: null }, redis)).not.toContain('Cassandra at steady offered rates');
  });

  it('shows the XADD steps, XREAD alone and both together', () => {
    expect(report).toContain('Redis streams: 3 writer connections with auto-pipelining');
    expect(report).toContain('of a 420-byte direct-message envelope');
    expect(tableRows(report, 'XADDs in flight')).toEqual([['96', '32', '85000', '1.1', '4.2', '0.9', '1', '0.05']]);
    expect(report).toContain('XREAD alone (full inboxes): 400000 entries/s in 4000 reads/s by 3 readers (cpu redis 0.8, generator -)');
    expect(report).toContain('XADD and blocking XREAD together: 60000 written/s, 59800 read/s, entry age when read p50 2 ms, p99 - ms (cpu redis 0.95, generator 1)');
  });

  it('reports the limits that were measured when the other could not be', () => {
    const redisOnly = formatLimits(null, redis);
    expect(redisOnly).not.toContain('Cassandra:');
    expect(redisOnly).toContain('XREAD alone (full inboxes): 400000 entries/s');
    const cassandraOnly = formatLimits(cassandra, null);
    expect(cassandraOnly).toContain('Peak: statements 2400 messages/s, store 2600 messages/s.');
    expect(cassandraOnly).not.toContain('Redis streams:');
    expect(formatLimits(null, null)).toBe('Limits of this machine for the design (no chat node in the way; the generator process issues the commands)');
    expect(formatLimits(null, null, null)).not.toContain('Loopback socket writes');
  });

  it('shows what a loopback socket write costs each side, paced and at full speed', () => {
    // 20,000 writes in 10 s at 2,000/s: 0.3 writer cores over the pacer's 0.1 at rest is 100 µs a write.
    const paced = stepOf(2000, 20_000, { cores: { writer: 0.3, reader: 0.2, machine: 0.7, other: 0.2 }, seconds: 10, writingSeconds: 8 }, { writer: 0.1, reader: 0, machine: 0.2, other: 0.1 });
    expect(paced.usPerWrite).toEqual({ writer: 100, reader: 100, machine: 250 });
    // The rate counts the writing alone, not the reader's moment after it.
    expect(paced.writesPerSecond).toBe(2500);
    const full = stepOf(null, 500_000, { cores: { writer: 1, reader: 0.5, machine: 1.6, other: 0.1 }, seconds: 5, writingSeconds: 5 }, null);
    expect(full.writesPerSecond).toBe(100_000);
    expect(full.usPerWrite).toEqual({ writer: 10, reader: 5, machine: 16 });
    const report = formatLimits(null, null, { sockets: 100, bytes: 100, pacerCpuCores: { writer: 0.1, reader: 0, machine: 0.2 }, steps: [paced, full] });
    expect(report).toContain('Loopback socket writes: 100 bytes at a time from one process to 100 connections of another');
    expect(tableRows(report, 'offered writes/s')).toEqual([
      ['2000', '2500', '100', '100', '250', '0.3', '0.2', '0.7', '0.2'],
      ['full speed', '100000', '10', '5', '16', '1', '0.5', '1.6', '0.1'],
    ]);
    expect(report).toContain('less the pacer ticking with nothing to write (writer 0.1, reader 0, machine 0.2 cores)');
    expect(stepOf(500, 0, { cores: { writer: 0.1 }, seconds: 1, writingSeconds: 1 }, null).usPerWrite).toBeNull();
  });
});

describe('the direct path’s floor', () => {
  // At 2,000 msg/s: Cassandra 0.483 (its own figure); the store's client 0.3 cores over 10.2 s
  // for 19,000 messages, 0.161; Redis 0.95 and the bus's client 1 core at 60,000 XADDs a
  // second, 0.016 and 0.017; the relay 0.28 cores for 2,000 delivered, 0.14.
  const floor = designFloor({ offeredPerSecond: 2000, chat, relay, cassandra, redis, machineCores: 2 });

  it('sums each part of a direct message measured alone, in cores per 1000 msg/s, beside the chat’s', () => {
    expect(floor).toMatchObject({
      offeredPerSecond: 2000,
      parts: { cassandra: 0.483, storeClient: 0.161, redis: 0.016, busClient: 0.017, webSockets: 0.14 },
      serverCoresPer1000: 0.817,
      chatServerCoresPer1000: 1.6,
    });
  });

  it('says the aim is beyond this machine when the floor alone is over it, and how busy the parts keep the machine', () => {
    // Clients: chat's 0.8 cores for 1,500 delivered (0.533) against the relay's 0.9 for 2,000 (0.45).
    expect(floor).toMatchObject({ clientCoresPer1000: 0.45, machineCores: 2, machineShare: 1.27 });
    const text = formatDesignFloor(floor);
    expect(text).toContain('= 0.817 server cores per 1000 msg/s');
    expect(text).toContain('chat: 1.6 (1.96x the floor); aim: ≤ 0.25 at 2000 msg/s, under the floor: beyond this machine for this design');
    expect(text).toContain("with the clients' 0.45, these parts alone keep 127 % of the machine's 2 cores busy at 2000 msg/s");
  });

  it('says the aim is within reach when the floor is under it, and gives no verdict at another rate', () => {
    const cheapStore = { ...cassandra, paced: cassandra.paced.map((step) => ({ ...step, cpuCores: { generator: 0.01 }, cassandraCoresPer1000: 0.01 })) };
    const cheapRelay = result('relay', [step(1000, 1000, [1, 2], { server: 0.1, generator: 0.1 }), step(2000, 2000, [1, 2], { server: 0.1, generator: 0.1 })]);
    expect(formatDesignFloor(designFloor({ offeredPerSecond: 2000, chat, relay: cheapRelay, cassandra: cheapStore, redis, machineCores: 2 }))).toContain(
      'aim: ≤ 0.25 at 2000 msg/s, which the floor leaves room for',
    );
    const atThousand = { ...cassandra, paced: cassandra.paced.map((step) => (step.offeredPerSecond === 2000 ? { ...step, offeredPerSecond: 1000 } : step)) };
    expect(formatDesignFloor(designFloor({ offeredPerSecond: 1000, chat, relay, cassandra: atThousand, redis, machineCores: 2 }))).toContain(
      'aim: ≤ 0.25 at 2000 msg/s, a rate this run did not take the floor at',
    );
  });

  it('names each part this run did not measure at the rate instead of guessing it', () => {
    expect(designFloor({ offeredPerSecond: 4000, chat, relay, cassandra, redis, machineCores: 2 })).toEqual({
      missing: ['chat delivering at 4000 msg/s', 'Cassandra storing at 4000 msg/s'],
    });
    expect(formatDesignFloor({ missing: ['Redis streams'] })).toBe("The direct path's floor could not be had from this run; not measured: Redis streams.");
  });

  it('takes the floor at the aims’ rate, or at the highest rate all three ran', () => {
    expect(floorRate(chat, relay, cassandra)).toBe(2000);
    const short = { ...cassandra, paced: cassandra.paced.filter((step) => step.offeredPerSecond !== 2000) };
    expect(floorRate(chat, relay, short)).toBeUndefined();
    const withThousand = { ...cassandra, paced: cassandra.paced.map((step) => (step.offeredPerSecond === 2000 ? { ...step, offeredPerSecond: 1000 } : step)) };
    expect(floorRate(chat, relay, withThousand)).toBe(1000);
  });
});

/** A group run; only what the group peers' report reads differs between targets. */
function groupRun(
  members: number,
  counts: { acked: number; deliveries: number; duplicates: number; errors: Record<string, number> },
  each: Percentiles,
  all: Percentiles,
  commandsPerMessage: number,
  cpuMsPerMessage: Record<string, number> | null = null,
): GroupFanoutResult {
  const redisCounts = { total: 0, byCommand: {} };
  return {
    group: 'g',
    members,
    nodesWithMembers: 3,
    groupNodesInRedis: null,
    messages: 10,
    acked: counts.acked,
    deliveriesExpected: 10 * (members - 1),
    deliveries: counts.deliveries,
    duplicates: counts.duplicates,
    deliveryLatencyMs: each,
    nodeDeliveryLatencyMs: null,
    allMembersLatencyMs: all,
    setupMs: { open: 1, join: 1 },
    errors: counts.errors,
    intervalMs: 8000,
    cpuMsPerMessage,
    cpuSpans: null,
    redis: {
      measured: redisCounts,
      idle: redisCounts,
      idleBefore: redisCounts,
      idleAfter: redisCounts,
      commandsPerMessage,
      inboxEntriesPerMessage: null,
      commandsPerMessageByCommand: {},
    },
  };
}

describe('the group peers report', () => {
  const report = formatGroupPeers([
    [
      'chat',
      groupRun(1000, { acked: 10, deliveries: 9990, duplicates: 0, errors: {} }, latency(120, 300), { count: 10, p50: 200, p95: 340, p99: 350, max: 400 }, 3.3, {
        server: 30,
        generator: 20,
        machine: 60,
      }),
    ],
    ['socket.io', groupRun(999, { acked: 9, deliveries: 9970, duplicates: 2, errors: { unknown: 1 } }, latency(40, 100), { count: 9, p50: 70, p95: 130, p99: 140, max: 160 }, 1)],
  ]);

  it('lines the targets up with their acks, deliveries, errors and what each member and the last member saw', () => {
    // The ratio and note lines follow the table at once.
    expect(tableRows(report, 'target').slice(0, 2)).toEqual([
      ['chat', '1000', '3', '10/10', '9990/9990', '0', '-', '120', '300', '200', '350', '400', '3.3', '30', '20', '60'],
      ['socket.io', '999', '3', '9/10', '9970/9980', '2', 'unknown:1', '40', '100', '70', '140', '160', '1', '-', '-', '-'],
    ]);
  });

  it('divides chat’s p99s by each peer’s', () => {
    expect(report).toContain('chat / socket.io: p99 to each member 3x, p99 to all members 2.5x');
  });
});

describe('the group scenario’s CPU per message', () => {
  it('takes the idle spans’ mean rate off the messages’ span, per message, leaving out the unattributed rest', () => {
    const sent = { cores: { server: 0.5, generator: 0.3, machine: 1, other: 0.2 }, seconds: 30 };
    const idle = [
      { cores: { server: 0.1, generator: 0, machine: 0.2, other: 0.1 }, seconds: 30 },
      { cores: { server: 0.3, generator: 0.1, machine: 0.4, other: 0 }, seconds: 29 },
    ];
    // server: (0.5 - 0.2) cores × 30 s / 60 messages = 150 ms.
    expect(cpuPerMessage(sent, idle, 60)).toEqual({ server: 150, generator: 125, machine: 350 });
    expect(cpuPerMessage(sent, idle, 0)).toBeNull();
  });

  it('reports each part per message, and per member for the nodes and the generator, which handle each member’s frame', () => {
    const report = formatGroupFanout(
      groupRun(1001, { acked: 10, deliveries: 10_000, duplicates: 0, errors: {} }, latency(100, 200), latency(150, 250), 3, { server: 45, redis: 0.5, generator: 20, machine: 70 }),
    );
    expect(report).toContain(
      "CPU per group message (the messages' interval less the idle intervals' mean, per message): nodes 45 ms (15 each of 3; 45 µs a member), " +
        'redis 0.5 ms, generator 20 ms (20 µs a member); the machine 70 ms. Each node and the generator is one thread',
    );
    expect(formatGroupFanout(groupRun(1001, { acked: 10, deliveries: 10_000, duplicates: 0, errors: {} }, latency(100, 200), latency(150, 250), 3))).not.toContain('CPU per group message');
  });
});

describe('the idle sockets report', () => {
  const sample = (rss: number, heap: number): MemorySample => ({ rssBytes: rss, heapUsedBytes: heap, externalBytes: 0 });
  const idle = (target: string, rssPerSocket: number, memoryNote: string | null = null): IdleSocketsResult => ({
    target,
    requested: 1000,
    opened: 1000,
    failures: 0,
    firstFailure: null,
    connectsPerSecond: 500,
    concurrency: 50,
    baseline: sample(50 * 1024 * 1024, 10 * 1024 * 1024),
    loaded: sample(50 * 1024 * 1024 + rssPerSocket * 1000, 10 * 1024 * 1024),
    afterClose: sample(50 * 1024 * 1024, 10 * 1024 * 1024),
    memoryNote,
    bytesPerSocket: { rss: rssPerSocket, heapUsed: 2048, external: 0 },
    residualBytesPerSocket: { rss: 0, heapUsed: 0 },
  });

  it('prints chat, the relay and each peer in that order, judges chat alone against the aim, and gives each peer’s note', () => {
    const report = formatIdleSockets(idle('chat', 6 * 1024), [idle('relay', 5 * 1024), idle('centrifugo', 40 * 1024, 'settled through pprof')], 8 * 1024);
    const rows = report.split('\n').filter((line) => /^(chat|relay|centrifugo) /.test(line));
    expect(rows.map((line) => line.split(/\s+/)[0])).toEqual(['chat', 'relay', 'centrifugo']);
    expect(rows[2]).toContain('40 KB');
    // rss 40 / 6 KB; heap+external 2 / 2 KB.
    expect(rows[2]?.trim().split(/\s{2,}/).slice(-2)).toEqual(['6.67x', '1x']);
    expect(rows[0]?.trim().split(/\s{2,}/).slice(-2)).toEqual(['-', '-']);
    expect(report).toContain('chat meets it on RSS (6 KB)');
    expect(report).toContain('centrifugo: settled through pprof.');
    expect(report).not.toContain('relay: ');
  });
});

describe('the opening rate report', () => {
  const row = (target: string, concurrency: number, opensPerSecond: number): OpenRateStep => ({
    target,
    concurrency,
    requested: 100,
    opened: 100,
    failures: 0,
    firstFailure: null,
    opensPerSecond,
    openMs: latency(10, 20),
    cpuCores: null,
    cpuCoresAtRest: null,
    cpuSeconds: 0.5,
    cpuMsPerOpen: null,
  });

  it('divides each target’s rate by chat’s with as many connects in flight', () => {
    const report = formatOpenRate([row('chat', 10, 400), row('chat', 100, 500), row('socket.io', 10, 1000), row('socket.io', 100, 250)]);
    const versusChat = report
      .split('\n')
      .filter((line) => /^(chat|socket\.io) /.test(line))
      .map((line) => line.trim().split(/\s+/)[9]);
    expect(versusChat).toEqual(['-', '-', '2.5x', '0.5x']);
  });

  it('gives what an open cost the server side and the generator, and the cores the aim would need at chat’s row with the most in flight', () => {
    const measured = (target: string, concurrency: number, cpuMsPerOpen: Record<string, number>, machine: number): OpenRateStep => ({
      ...row(target, concurrency, 200),
      cpuCores: { machine },
      cpuMsPerOpen,
    });
    const report = formatOpenRate([
      measured('chat', 10, { server: 1, cassandra: 0.5, redis: 0.5, generator: 1, machine: 3.5 }, 0.7),
      measured('chat', 100, { server: 3, cassandra: 1.5, redis: 0.5, generator: 2, machine: 7.5 }, 1.5),
      measured('relay', 100, { server: 1, generator: 1, machine: 2.5 }, 0.5),
    ]);
    const cells = (target: string, concurrency: number): string[] | undefined =>
      report
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .find((words) => words[0] === target && words[1] === String(concurrency));
    // server ms/open sums the server side's parts: nodes, Cassandra and Redis.
    expect(cells('chat', 10)?.slice(10)).toEqual(['2', '1', '0.7']);
    expect(cells('chat', 100)?.slice(10)).toEqual(['5', '2', '1.5']);
    expect(cells('relay', 100)?.slice(10)).toEqual(['1', '1', '0.5']);
    expect(report).toContain(
      'chat at 100 in flight: 5 ms of server CPU per socket opened over what it used at rest (nodes 3, cassandra 1.5, redis 0.5); ' +
        '3,000 opens a second would need 15 cores of it; the generator opening them, 6 more; the machine was 1.5 cores busy opening 200 a second',
    );
  });

  it('leaves the costs out when no processes were measured', () => {
    const report = formatOpenRate([row('chat', 10, 400)]);
    expect(report).not.toContain('chat at 10 in flight');
  });
});

describe('the storm report', () => {
  const storm = (target: string, p99: number, lost: number, notRecovered: number): StormResult => ({
    target,
    drainHow: `${target} drained`,
    catchUpHow: `${target} catches up`,
    sockets: 100,
    opened: 100,
    openFailures: 0,
    openMs: 1_000,
    survivors: 3,
    backAndSynced: 100,
    notRecovered,
    failed: 0,
    firstFailure: null,
    attempts: 100,
    retried: 0,
    firstAttemptMs: latency(1, 2),
    reconnectMs: latency(5, p99 / 2),
    reconnectAndSyncMs: latency(10, p99),
    totalMs: 2_000,
    // 0.5 server cores for 2 s over 100 clients: 10 ms a client.
    cpuCores: { server: 0.4, redis: 0.1, generator: 0.3, machine: 1, other: 0.2 },
    cpuSeconds: 2,
    generatorLagMs: { p50: 1, p99: 2, max: 3 },
    listenOverflows: 0,
    drainedExitMs: 500,
    drainFrames: target === 'chat' ? 100 : 0,
    reconnectAfterMsMax: 0,
    closeCodes: { [target === 'chat' ? '1001' : 'transport close']: 100 },
    storeOperations: {},
    timeline: [],
    failureExamples: {},
    syncPages: 0,
    messagesInSync: 0,
    messages: { perSecond: 50, sent: 200, acked: 200, errors: {}, received: 200 - lost, receivedLive: 150, receivedBySyncOnly: 50 - lost, lost, unverified: 0, lostExamples: lost === 0 ? [] : [{ seq: 42, sentMs: 120, recipientLeftMs: 100, recipientBackMs: 130.5 }] },
  });

  it('names how each target was drained and caught up, and what it lost', () => {
    const report = formatStorm(storm('socket.io', 400, 7, 60));
    expect(report).toContain('Reconnect storm on socket.io');
    expect(report).toContain('(socket.io drained)');
    expect(report).toContain('catches up: socket.io catches up');
    expect(report).toContain('60 of those back had a catch-up socket.io did not vouch for');
    expect(report).toContain('LOST 7');
    expect(report).toContain('first lost (ms after the drain began): #42 sent at 120, its recipient left at 100 and was back at 130.5');
    // A peer stores nothing in Cassandra: its server side is the survivors and Redis.
    expect(report).toContain('server CPU per client back and caught up (survivors + redis): 10 ms');
    // Neither drain frames nor sync pages on a peer.
    expect(report).not.toContain('drain frames');
    expect(report).not.toContain('sync pages');
    // No store was read on a peer: no line of store calls.
    expect(report).not.toContain('store calls');
  });

  it('lines chat and the peers up with their p99 to caught up divided by chat’s', () => {
    const report = formatStormPeers([storm('chat', 200, 0, 0), storm('socket.io', 400, 7, 60), storm('centrifugo', 100, 50, 100)]);
    const rows = report.split('\n').filter((line) => /^(chat|socket\.io|centrifugo) /.test(line));
    expect(rows.map((line) => line.trim().split(/\s+/))).toEqual([
      ['chat', '100/100', '0', '2', '100', '10', '200', '10', '200', '0', '-'],
      ['socket.io', '100/100', '60', '2', '200', '10', '400', '10', '200', '7', '2x'],
      ['centrifugo', '100/100', '100', '2', '50', '10', '100', '10', '200', '50', '0.5x'],
    ]);
    expect(report).not.toContain('maxmemory-clients');
  });

  it('says where Redis’s client memory was bounded and how many connections it closed', () => {
    const bounded = { ...storm('socket.io+recovery', 400, 7, 60), redisClientMemory: { limitBytes: 4 * 1024 ** 3, clientsEvicted: 3 } };
    const expected = "Redis's clients held to 4 GiB of buffers (maxmemory-clients), 3 connections closed to stay under it";
    expect(formatStorm(bounded)).toContain(expected);
    expect(formatStormPeers([storm('chat', 200, 0, 0), bounded])).toContain(`  socket.io+recovery: ${expected}`);
  });
});

describe('wake-ups per message', () => {
  it('reads a thread’s voluntary context switches from its /proc status, not the involuntary ones', () => {
    const status = 'Name:\tnode\nvoluntary_ctxt_switches:\t4211\nnonvoluntary_ctxt_switches:\t37\n';
    expect(voluntarySwitches(status)).toBe(4211);
    expect(voluntarySwitches('Name:\tnode\nnonvoluntary_ctxt_switches:\t37\n')).toBeUndefined();
  });

  it('counts each thread’s growth, a thread born in between from nothing, and not a thread that ended', () => {
    const before = new Map([['11', 4.5], ['12', 1], ['13', 7]]);
    const after = new Map([['11', 5], ['12', 1], ['14', 0.25]]);
    expect(growthBetween(before, after)).toBeCloseTo(0.75);
  });

  it('counts this process’s own wake-ups in /proc from start: each timer it waits for wakes its main thread', async () => {
    // pid_max is at most 2^22, so no process has the pid `gone` names.
    const meter = new CpuMeter({ self: [process.pid], gone: [2 ** 22 + 1] }, { threads: true });
    expect(() => meter.wakeUpsSinceStart()).toThrow(/before start/);
    const uncounting = new CpuMeter({ self: [process.pid] });
    uncounting.start();
    expect(() => uncounting.wakeUpsSinceStart()).toThrow(/without \{ threads: true \}/);
    expect(() => uncounting.runQueueSecondsSinceStart()).toThrow(/without \{ threads: true \}/);
    const sinceBirthAtStart = growthBetween(new Map(), wakeUpsByThread(process.pid) ?? new Map<string, number>());
    meter.start();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const { self = 0, gone } = meter.wakeUpsSinceStart();
    expect(self).toBeGreaterThanOrEqual(5);
    // Counted from start, not from each thread's birth.
    expect(self).toBeLessThan(sinceBirthAtStart);
    // A process that is not there has no threads to count, rather than failing the step.
    expect(gone).toBe(0);
  });

  it('counts the seconds a process waited for a core while another process spun on the same core', async () => {
    // Two spinners pinned to one core (taskset, util-linux) share it however many cores the machine has: each waits about half the time.
    const spinners = [0, 1].map(() => spawn('taskset', ['-c', '0', process.execPath, '-e', 'const end = Date.now() + 1500; while (Date.now() < end);'], { stdio: 'ignore' }));
    const ended = Promise.all(spinners.map((child) => new Promise((resolve) => child.once('exit', resolve).once('error', resolve))));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [first] = spinners;
      if (first?.pid === undefined) throw new Error('the spinner did not start');
      const meter = new CpuMeter({ spinner: [first.pid], gone: [2 ** 22 + 1] }, { threads: true });
      meter.start();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { spinner = 0, gone } = meter.runQueueSecondsSinceStart() ?? {};
      expect(spinner).toBeGreaterThan(0.1);
      expect(spinner).toBeLessThan(0.6);
      expect(gone).toBe(0);
    } finally {
      for (const child of spinners) child.kill();
      await ended;
    }
  });

  it('divides each count by the acked messages, to 2 decimals, and gives none when nothing was acked', () => {
    expect(perMessage({ server: 1234, redis: 2 }, 2000)).toEqual({ server: 0.62, redis: 0 });
    expect(perMessage({ server: 1234 }, 0)).toBeNull();
  });

  it('prints each target’s wake-ups per message and waits for a core by process group, step by step', () => {
    const woken = result('chat', [
      step(1000, 1000, [4, 20], { server: 0.6 }, null, { server: 2.8, redis: 1.1, cassandra: 5.5, generator: 0.8 }, { server: 1.97, redis: 0.08, cassandra: 1.01, generator: 0.39 }),
    ]);
    const quiet = result('relay', [step(1000, 1000, [1, 3], { server: 0.15 }, null, { server: 1.9, generator: 0.7 }, { server: 0.01, generator: 0 })]);
    // A run made before the waits were measured has none to print.
    const older = result('peer', [step(1000, 1000, [1, 3], { server: 0.2 }, null, { server: 1.2, generator: 0.7 })]);
    const report = formatDirectSteps([woken, quiet, older], 'Scenario 1');
    const section = report.split('\n\n').find((candidate) => candidate.startsWith('target  offered/s  wake-ups server')) ?? '';
    const rows = section.split('\n').slice(2, 5).map((line) => line.split(/ {2,}/));
    expect(rows).toEqual([
      ['chat', '1000', '2.8', '1.1', '5.5', '0.8', '1.97', '0.08', '1.01', '0.39'],
      // The relay has no Redis or Cassandra.
      ['relay', '1000', '1.9', '-', '-', '0.7', '0.01', '-', '-', '0'],
      ['peer', '1000', '1.2', '-', '-', '0.7', '-', '-', '-', '-'],
    ]);
  });
});

describe('the store warm-up', () => {

  it('says how long it took, the compilers’ cores round by round, and whether they went quiet', () => {
    const warm = formatStoreWarmUp({ rounds: 3, ms: 41_234, compilerCores: [0.61, 0.12, 0.03], settled: true, quietCores: 0.05 }, 'The chat scenarios’ Cassandra');
    expect(warm).toContain('The chat scenarios’ Cassandra: 41.2 s of warm-up traffic');
    expect(warm).toContain('3 rounds');
    expect(warm).toContain('0.61, 0.12, 0.03 cores round by round (warm: under 0.05 cores in the last)');
    const cold = formatStoreWarmUp({ rounds: 1, ms: 900, compilerCores: [0.4], settled: false, quietCores: 0.05 }, 'Its TLS-only Cassandra');
    expect(cold).toContain('NOT warm');
  });
});
