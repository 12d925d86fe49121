import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeAll, openMany, type Frame, type LoadSocket } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { backlogLimit, callsIn, pace, waitWhile } from './pacer.js';
import { coresAtRest, CpuMeter, histogramMeanMs, histogramQuantileMs, readMetrics, roundCores, STORE_LATENCY } from './process-figures.js';
import { commandsBetween, type RedisCommandCounter } from './redis-commands.js';
import { eachOver, percentiles, perMessage, round, type Percentiles } from './statistics.js';
import type { LoadTarget } from './targets.js';

export interface DirectLoadOptions {
  /** Offered load of each step, messages per second over all pairs. */
  rates: readonly number[];
  stepMs: number;
  /** How long after a step's last send its stragglers may still arrive (and count for latency). */
  graceMs: number;
  pairs: number;
  /** Size of each message's text (bytes, ASCII). */
  textBytes: number;
  /**
   * An unrecorded step before the steps, for the JIT of the servers and of Cassandra, pools
   * and caches: a fresh Cassandra JVM spends most of a core compiling for its first minute.
   */
  warmup: Warmup;
}

export interface Warmup {
  ms: number;
  messagesPerSecond: number;
}

/** What the chat nodes measured themselves during a step (means of their histograms, and p99s where named, ms). */
export interface ServerSideFigures {
  /** Cassandra write of a message (`chat_store_latency_seconds{operation="append_message"}`). */
  appendMessage: number | null;
  /** Age of inbox entries when the receiving node processed them (`chat_bus_consumer_lag_seconds`). */
  busLag: number | null;
  /** Send accepted → frame written, on the recipient's node (`chat_delivery_latency_seconds`). */
  delivery: number | null;
  /**
   * The p99s of the same three over all nodes, estimated from the histograms' buckets as
   * Prometheus's histogram_quantile does. `delivery`'s is the part of the clients' delivery
   * p99 spent inside the nodes, from reading the send to writing the frame.
   */
  appendMessageP99: number | null;
  busLagP99: number | null;
  deliveryP99: number | null;
  /** The worst node's event-loop delay, p99 and max over the step (`nodejs_eventloop_lag_*`, reset by each scrape). */
  eventLoopP99: number | null;
  eventLoopMax: number | null;
  /** Garbage-collection pause time of all nodes together, ms per second of the step (`nodejs_gc_duration_seconds`). */
  gcPerSecond: number | null;
}

/** What a step measures besides the sockets: CPU of process groups, Redis counters, server metrics. */
export interface LoadProbes {
  cpu: CpuGroups;
  redis?: RedisCommandCounter;
  /** The chat nodes' /metrics URLs. */
  metricsUrls?: readonly string[];
}

/** Processes whose CPU a step reports, by group name (e.g. nodes, redis, cassandra, generator). */
export type CpuGroups = Record<string, readonly number[]>;

/** One step of offered load, as the generator saw it. */
export interface DirectStep {
  offeredPerSecond: number;
  /** Sends actually written (the generator holds back sends beyond 2 s of unacked ones). */
  sent: number;
  sentPerSecond: number;
  heldBack: number;
  /** Acks and deliveries that arrived within the step's send window, per second. */
  ackedPerSecond: number;
  deliveredPerSecond: number;
  acked: number;
  delivered: number;
  /** Sent, not refused, and still not delivered when the grace period ended. */
  undelivered: number;
  duplicates: number;
  ackLatencyMs: Percentiles;
  deliveryLatencyMs: Percentiles;
  errors: Record<string, number>;
  socketsClosed: number;
  /** Average cores busy during the step, per process group. */
  cpuCores: Record<string, number>;
  /** Redis commands per acked message over the step (incl. idle background traffic), when Redis is in play. */
  redisCommandsPerMessage: number | null;
  redisCommandsPerMessageByCommand: Record<string, number> | null;
  /**
   * Per acked message, how often each process group's threads were woken over the step
   * (CpuMeter.wakeUpsSinceStart, idle background wake-ups included); null when none was acked.
   */
  wakeUpsPerMessage: Record<string, number> | null;
  /**
   * Seconds each process group's threads waited for a core, per second of the span the
   * cores were measured over (CpuMeter.runQueueSecondsSinceStart): beside `cpuCores`, how
   * much longer the group's work took because every core was busy. Absent from runs made
   * before it was measured (2026-12-07) and on kernels without scheduler statistics.
   */
  runQueueSecondsPerSecond?: Record<string, number>;
  /** From the servers' own histograms over the step (chat nodes only), in ms. */
  serverSideMs: ServerSideFigures | null;
  saturated: string | null;
}

export interface DirectLoadResult {
  target: string;
  pairs: number;
  nodes: number;
  stepMs: number;
  textBytes: number;
  /** The unrecorded warm-up before the steps. */
  warmup: Warmup;
  /** Cores busy per process group over a few idle seconds before the steps (sockets open, nothing sent). */
  idleCpuCores: Record<string, number>;
  steps: DirectStep[];
  /** The highest delivered rate of any step. */
  peakDeliveredPerSecond: number;
}

interface Pair {
  sender: LoadSocket;
  recipient: LoadSocket;
  recipientUser: string;
}

/**
 * Scenario 1: pairs of sockets (sender and recipient on different nodes when there are
 * several) send direct messages at stepped offered rates, each step bounded in time and
 * in messages; stepping stops after the first step where delivery falls far behind.
 */
export async function runDirectLoad(
  target: LoadTarget,
  options: DirectLoadOptions,
  probes: LoadProbes,
): Promise<DirectLoadResult> {
  const pairs = await openPairs(target, options.pairs);
  const steps: DirectStep[] = [];
  let idleCpuCores: Record<string, number> = {};
  try {
    idleCpuCores = await coresAtRest(probes.cpu, IDLE_CPU_MS);
    const { warmup } = options;
    progress(`${target.name}: warm-up at ${warmup.messagesPerSecond} msg/s for ${warmup.ms} ms`);
    await runStep(pairs, warmup.messagesPerSecond, warmup.ms, 'w', options, probes);
    for (const [index, rate] of options.rates.entries()) {
      progress(`${target.name}: step ${index + 1}/${options.rates.length}, ${rate} msg/s offered for ${options.stepMs} ms`);
      const step = await runStep(pairs, rate, options.stepMs, `s${index}`, options, probes);
      steps.push(step);
      progress(
        `${target.name}: ${rate} msg/s offered → ${step.deliveredPerSecond} delivered/s, p50 ${step.deliveryLatencyMs.p50 ?? '-'} ms, ` +
          `p99 ${step.deliveryLatencyMs.p99 ?? '-'} ms${step.saturated === null ? '' : `; saturated: ${step.saturated}`}`,
      );
      if (step.saturated !== null) break;
      await sleep(1_000);
    }
  } finally {
    await closeAll(pairs.flatMap((pair) => [pair.sender, pair.recipient]));
  }
  return {
    target: target.name,
    pairs: options.pairs,
    nodes: target.nodeCount,
    stepMs: options.stepMs,
    textBytes: options.textBytes,
    warmup: options.warmup,
    idleCpuCores,
    steps,
    peakDeliveredPerSecond: Math.max(0, ...steps.map((step) => step.deliveredPerSecond)),
  };
}

async function openPairs(target: LoadTarget, count: number): Promise<Pair[]> {
  const users = Array.from({ length: count }, (_, index) => ({ sender: `dm-s${index}`, recipient: `dm-r${index}` }));
  // Sender i on node i, its recipient on the next node: every message crosses nodes.
  const opened = await openMany(count * 2, 20, (index) => {
    const pair = Math.floor(index / 2);
    const user = users[pair];
    if (user === undefined) throw new Error('pair out of range');
    return index % 2 === 0 ? target.open(user.sender, pair) : target.open(user.recipient, pair + 1);
  });
  if (opened.failures.length > 0) {
    await closeAll(opened.sockets);
    throw new Error(`${target.name}: could not open the pairs' sockets: ${opened.failures[0] ?? ''}`);
  }
  return users.map((user, index) => {
    const sender = opened.sockets[index * 2];
    const recipient = opened.sockets[index * 2 + 1];
    if (sender === undefined || recipient === undefined) throw new Error('a pair socket is missing');
    return { sender, recipient, recipientUser: user.recipient };
  });
}

/** Records of one step's messages by sequence number; 0 means "not (yet)". */
class StepLedger {
  readonly sentAt: Float64Array;
  readonly ackedAt: Float64Array;
  readonly deliveredAt: Float64Array;
  readonly refused: Uint8Array;
  sent = 0;
  acked = 0;
  delivered = 0;
  refusedCount = 0;
  duplicates = 0;
  readonly errors: Record<string, number> = {};

  constructor(
    readonly prefix: string,
    readonly capacity: number,
  ) {
    this.sentAt = new Float64Array(capacity);
    this.ackedAt = new Float64Array(capacity);
    this.deliveredAt = new Float64Array(capacity);
    this.refused = new Uint8Array(capacity);
  }

  /** The sequence number in a ref or text of this step (`<prefix><seq>[ ...]`), if it is one. */
  private sequenceOf(value: unknown): number | undefined {
    if (typeof value !== 'string' || !value.startsWith(this.prefix)) return undefined;
    const seq = Number.parseInt(value.slice(this.prefix.length), 10);
    return Number.isInteger(seq) && seq >= 0 && seq < this.capacity ? seq : undefined;
  }

  record(frame: Frame, at: number): void {
    if (frame.type === 'ack') {
      const seq = this.sequenceOf(frame.ref);
      if (seq === undefined || this.ackedAt[seq] !== 0) return;
      this.ackedAt[seq] = at;
      this.acked += 1;
    } else if (frame.type === 'message') {
      const seq = this.sequenceOf(frame.text);
      if (seq === undefined) return;
      if (this.deliveredAt[seq] !== 0) {
        this.duplicates += 1;
        return;
      }
      this.deliveredAt[seq] = at;
      this.delivered += 1;
    } else if (frame.type === 'error') {
      const code = typeof frame.code === 'string' ? frame.code : 'unknown';
      this.errors[code] = (this.errors[code] ?? 0) + 1;
      const seq = this.sequenceOf(frame.ref);
      if (seq !== undefined && this.refused[seq] === 0) {
        this.refused[seq] = 1;
        this.refusedCount += 1;
      }
    }
  }

  /** Sent and neither delivered nor refused. */
  get open(): number {
    return this.sent - this.delivered - this.refusedCount;
  }

  /** Sent and neither acked nor refused. */
  get unacked(): number {
    return this.sent - this.acked - this.refusedCount;
  }

  countUpTo(times: Float64Array, end: number): number {
    let count = 0;
    for (const time of times) if (time !== 0 && time <= end) count += 1;
    return count;
  }

  latencies(times: Float64Array): Float64Array {
    const samples: number[] = [];
    for (let seq = 0; seq < this.capacity; seq++) {
      const sentAt = this.sentAt[seq] ?? 0;
      const at = times[seq] ?? 0;
      if (sentAt !== 0 && at !== 0) samples.push(at - sentAt);
    }
    return Float64Array.from(samples);
  }
}

/** How long CPU is measured with the sockets open and nothing sent, as the steps' baseline. */
const IDLE_CPU_MS = 3_000;

async function runStep(
  pairs: readonly Pair[],
  rate: number,
  durationMs: number,
  tag: string,
  options: DirectLoadOptions,
  probes: LoadProbes,
): Promise<DirectStep> {
  const ledger = new StepLedger(`${tag}-`, callsIn(rate, durationMs));
  const closedBefore = countClosed(pairs);
  for (const pair of pairs) {
    pair.sender.onFrame = (frame, at) => {
      ledger.record(frame, at);
    };
    pair.recipient.onFrame = pair.sender.onFrame;
  }
  const padding = 'x'.repeat(Math.max(0, options.textBytes - `${ledger.prefix}${ledger.capacity} `.length));
  const maxUnacked = backlogLimit(rate);
  let heldBack = 0;
  const cpu = new CpuMeter(probes.cpu, { threads: true });
  const redisBefore = await probes.redis?.read();
  const serverBefore = await Promise.all((probes.metricsUrls ?? []).map(readMetrics));
  cpu.start();

  const startedAt = performance.now();
  const windowEnd = startedAt + durationMs;
  await pace(rate, durationMs, (seq) => {
    const pair = pairs[seq % pairs.length];
    if (pair === undefined || !pair.sender.isOpen || ledger.unacked >= maxUnacked) {
      heldBack += 1;
      return;
    }
    ledger.sentAt[seq] = performance.now();
    ledger.sent += 1;
    pair.sender.send({ type: 'send', ref: `${ledger.prefix}${seq}`, to: { user: pair.recipientUser }, text: `${ledger.prefix}${seq} ${padding}` });
  });
  await waitWhile(() => ledger.open > 0, options.graceMs);
  const { cores: cpuCores, seconds: meteredSeconds } = cpu.stopSpan();
  const wakeUps = cpu.wakeUpsSinceStart();
  const runQueueSeconds = cpu.runQueueSecondsSinceStart();
  const redisAfter = await probes.redis?.read();
  const serverAfter = await Promise.all((probes.metricsUrls ?? []).map(readMetrics));

  const seconds = durationMs / 1000;
  const ackedInWindow = ledger.countUpTo(ledger.ackedAt, windowEnd);
  const deliveredInWindow = ledger.countUpTo(ledger.deliveredAt, windowEnd);
  const deliveryLatencyMs = percentiles(ledger.latencies(ledger.deliveredAt));
  const redis = redisBefore !== undefined && redisAfter !== undefined && ledger.acked > 0 ? commandsBetween(redisBefore, redisAfter) : undefined;
  const step: Omit<DirectStep, 'saturated'> = {
    offeredPerSecond: rate,
    sent: ledger.sent,
    sentPerSecond: round(ledger.sent / seconds),
    heldBack,
    ackedPerSecond: round(ackedInWindow / seconds),
    deliveredPerSecond: round(deliveredInWindow / seconds),
    acked: ledger.acked,
    delivered: ledger.delivered,
    undelivered: ledger.open,
    duplicates: ledger.duplicates,
    ackLatencyMs: percentiles(ledger.latencies(ledger.ackedAt)),
    deliveryLatencyMs,
    errors: ledger.errors,
    socketsClosed: countClosed(pairs) - closedBefore,
    cpuCores: roundCores(cpuCores),
    redisCommandsPerMessage: redis === undefined ? null : round(redis.total / ledger.acked, 2),
    redisCommandsPerMessageByCommand: redis === undefined ? null : perMessage(redis.byCommand, ledger.acked),
    wakeUpsPerMessage: perMessage(wakeUps, ledger.acked),
    ...(runQueueSeconds === undefined ? {} : { runQueueSecondsPerSecond: eachOver(runQueueSeconds, meteredSeconds) }),
    serverSideMs:
      serverAfter.length === 0
        ? null
        : {
            appendMessage: histogramMeanMs(serverBefore, serverAfter, STORE_LATENCY, '{operation="append_message"}'),
            busLag: histogramMeanMs(serverBefore, serverAfter, 'chat_bus_consumer_lag_seconds'),
            delivery: histogramMeanMs(serverBefore, serverAfter, 'chat_delivery_latency_seconds'),
            appendMessageP99: histogramQuantileMs(serverBefore, serverAfter, STORE_LATENCY, 0.99, '{operation="append_message"}'),
            busLagP99: histogramQuantileMs(serverBefore, serverAfter, 'chat_bus_consumer_lag_seconds', 0.99),
            deliveryP99: histogramQuantileMs(serverBefore, serverAfter, 'chat_delivery_latency_seconds', 0.99),
            eventLoopP99: worstGaugeMs(serverAfter, 'nodejs_eventloop_lag_p99_seconds'),
            eventLoopMax: worstGaugeMs(serverAfter, 'nodejs_eventloop_lag_max_seconds'),
            gcPerSecond: round(((sumOf(serverAfter, 'nodejs_gc_duration_seconds_sum') - sumOf(serverBefore, 'nodejs_gc_duration_seconds_sum')) * 1000) / meteredSeconds, 1),
          },
  };
  return { ...step, saturated: saturation(step, ledger.capacity) };
}

/** Why a step counts as "delivery fell far behind", or null when it kept up. */
function saturation(step: Omit<DirectStep, 'saturated'>, offered: number): string | null {
  if (step.deliveredPerSecond < 0.8 * step.offeredPerSecond) return 'delivered < 80% of offered';
  if (step.heldBack > 0.01 * offered) return 'over 2 s of sends unacknowledged (generator held back)';
  if (step.undelivered > 0.001 * Math.max(1, step.sent)) return 'messages still undelivered after the grace period';
  if ((step.deliveryLatencyMs.p99 ?? 0) > 2_000) return 'p99 delivery latency over 2 s';
  if (step.socketsClosed > 0) return 'sockets closed by the server';
  return null;
}

/** The sum over several scrapes of every sample of a metric (all label sets). */
function sumOf(scrapes: readonly Map<string, number>[], name: string): number {
  let sum = 0;
  for (const samples of scrapes) {
    for (const [key, value] of samples) if (key === name || key.startsWith(`${name}{`)) sum += value;
  }
  return sum;
}

/** The highest value of a gauge (seconds) over several scrapes, in ms. */
function worstGaugeMs(scrapes: readonly Map<string, number>[], name: string): number | null {
  const values = scrapes.flatMap((samples) => {
    const value = samples.get(name);
    return value === undefined || Number.isNaN(value) ? [] : [value];
  });
  return values.length === 0 ? null : round(Math.max(...values) * 1000, 1);
}

function countClosed(pairs: readonly Pair[]): number {
  return pairs.reduce((count, pair) => count + (pair.sender.isOpen ? 0 : 1) + (pair.recipient.isOpen ? 0 : 1), 0);
}
