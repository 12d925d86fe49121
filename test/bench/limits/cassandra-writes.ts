import { performance } from 'node:perf_hooks';
import { types, type Client } from 'cassandra-driver';
import type { ChatMessage } from '../../../node/protocol/frames.js';
import { conversationId } from '../../../node/protocol/conversations.js';
import { messageIdGenerator, messageIdTime } from '../../../node/protocol/ids.js';
import { bucketOfMessageId } from '../../../node/store/buckets.js';
import { cassandraClient, type CassandraConnection } from '../../../node/store/cassandra/client.js';
import { CQL, WRITE } from '../../../node/store/cassandra/queries.js';
import { CassandraStore } from '../../../node/store/cassandra/store.js';
import type { CpuGroups } from '../direct-load.js';
import { progress } from '../lifecycle.js';
import { backlogLimit, pace, waitWhile } from '../pacer.js';
import { coresAtRest, CpuMeter, roundCores } from '../process-figures.js';
import { percentiles, round, type Percentiles } from '../statistics.js';
import { countFailure, runClosedLoop, type ClosedLoopResult } from './closed-loop.js';

/**
 * How a direct message is written:
 *  - `statements`: the 4 statements appendMessage (node/store/cassandra/store.ts) issued when
 *    this was written, straight from the driver: the conversation's bucket row and both
 *    participants' sync rows in parallel (the sync rows at the message's own write time),
 *    then the message row; all prepared, LOCAL_QUORUM (WRITE in queries.ts);
 *  - `store`: CassandraStore.appendMessage itself, whatever it issues now, on the same client.
 * Both over a client with the node's settings (cassandraClient) and no node in the way.
 */
export type WritePath = 'statements' | 'store';

export interface CassandraWriteStep extends ClosedLoopResult {
  path: WritePath;
  /** Driver requests (a statement or a batch) answered per second, and per message. */
  requestsPerSecond: number;
  requestsPerMessage: number | null;
  cpuCores: Record<string, number>;
}

/**
 * The store path at a steady offered rate (open loop), as the chat scenario offers it: what
 * Cassandra itself costs per message at that rate, the floor under the chat's server cores.
 */
export interface CassandraPacedStep {
  offeredPerSecond: number;
  seconds: number;
  completed: number;
  perSecond: number;
  /** Writes not started because backlogLimit(rate) were already awaited (Cassandra fell behind). */
  heldBack: number;
  /** Writes still running when the step's grace ran out (not in `completed`). */
  unfinished: number;
  latencyMs: Percentiles;
  errors: Record<string, number>;
  cpuCores: Record<string, number>;
  /** Cassandra's cores per 1,000 stored messages a second. */
  cassandraCoresPer1000: number | null;
}

export interface CassandraWriteLimits {
  textBytes: number;
  /** One step per path and number of messages in flight (a node has one in flight per send it is storing). */
  steps: CassandraWriteStep[];
  peakMessagesPerSecond: Record<WritePath, number>;
  /** The store path at each of the given offered rates. */
  paced: CassandraPacedStep[];
  /** Cores used with nothing written, measured just before the paced steps (null: none ran). */
  idleCpuCores: Record<string, number> | null;
}

/**
 * The most direct messages per second Cassandra stores on this machine without a node in
 * the way, each path with `concurrency` messages in flight for `stepMs` per step, into
 * `keyspace` (already migrated).
 */
export async function measureCassandraWrites(
  connection: CassandraConnection,
  options: { concurrency: readonly number[]; pacedRates: readonly number[]; stepMs: number; warmupMs: number; pairs: number; textBytes: number },
  cpu: CpuGroups,
): Promise<CassandraWriteLimits> {
  const client = cassandraClient(connection);
  await client.connect();
  try {
    const requests = countRequests(client);
    const store = new CassandraStore(client);
    const nextId = messageIdGenerator();
    const text = 'x'.repeat(options.textBytes);
    const messageOf = (seq: number): ChatMessage => {
      const pair = seq % options.pairs;
      const [from, to] = [`dm-s${pair}`, `dm-r${pair}`];
      const id = nextId(Date.now());
      return { id, conv: conversationId(from, { user: to }), from, to: { user: to }, text, ts: messageIdTime(id) };
    };
    const write: Record<WritePath, (seq: number) => Promise<void>> = {
      statements: (seq) => appendDirectMessage(client, messageOf(seq)),
      store: (seq) => {
        const message = messageOf(seq);
        return store.appendMessage(message, [message.from, 'user' in message.to ? message.to.user : '']);
      },
    };
    progress(`limits: Cassandra warm-up for ${options.warmupMs} ms`);
    await runClosedLoop(options.concurrency[0] ?? 32, options.warmupMs, write.statements);
    const steps: CassandraWriteStep[] = [];
    for (const path of ['statements', 'store'] as const) {
      for (const concurrency of options.concurrency) {
        const meter = new CpuMeter(cpu);
        const requestsBefore = requests();
        meter.start();
        const result = await runClosedLoop(concurrency, options.stepMs, write[path]);
        const cpuCores = roundCores(meter.stop());
        const answered = requests() - requestsBefore;
        steps.push({
          ...result,
          path,
          requestsPerSecond: round(answered / result.seconds),
          requestsPerMessage: result.completed === 0 ? null : round(answered / result.completed, 2),
          cpuCores,
        });
        progress(`limits: Cassandra (${path}), ${concurrency} messages in flight → ${result.perSecond} messages/s, p99 ${result.latencyMs.p99 ?? '-'} ms`);
      }
    }
    // The steady rates last, on a Cassandra the full-speed steps warmed (its JIT compilers cost
    // more than any write while they work); the idle baseline just before says what the flushes
    // and compactions those steps left behind cost meanwhile.
    const idleCpuCores = options.pacedRates.length === 0 ? null : await coresAtRest(cpu, options.stepMs);
    const paced: CassandraPacedStep[] = [];
    for (const rate of options.pacedRates) {
      const step = await runPacedStep(rate, options.stepMs, write.store, cpu);
      paced.push(step);
      progress(`limits: Cassandra (store) at ${rate} messages/s offered → ${step.perSecond} stored/s, ${step.cassandraCoresPer1000 ?? '-'} Cassandra cores per 1000 messages/s`);
    }
    const peak = (path: WritePath): number => Math.max(0, ...steps.filter((step) => step.path === path).map((step) => step.perSecond));
    return { textBytes: options.textBytes, steps, peakMessagesPerSecond: { statements: peak('statements'), store: peak('store') }, paced, idleCpuCores };
  } finally {
    await client.shutdown();
  }
}

/** How long a paced step waits after its window for the writes it started, and how long more for stragglers (uncounted). */
export interface PacedGrace {
  graceMs: number;
  drainMs: number;
}

const PACED_GRACE: PacedGrace = { graceMs: 5_000, drainMs: 30_000 };

/**
 * `write` started `rate` times a second for `stepMs`, each without waiting for the others
 * (at most backlogLimit(rate) awaited at once), and what it cost the processes of `cpu`,
 * measured until the writes settled or the grace ran out. Writes still running then are
 * counted as unfinished and awaited a while longer, so that they do not run on into the
 * next measurement.
 */
export async function runPacedStep(
  rate: number,
  stepMs: number,
  write: (seq: number) => Promise<void>,
  cpu: CpuGroups,
  { graceMs, drainMs }: PacedGrace = PACED_GRACE,
): Promise<CassandraPacedStep> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = backlogLimit(rate);
  let heldBack = 0;
  let storedInWindow = 0;
  const meter = new CpuMeter(cpu);
  meter.start();
  const startedAt = performance.now();
  const windowEnd = startedAt + stepMs;
  await pace(rate, stepMs, (seq) => {
    if (inFlight.size >= maxInFlight) {
      heldBack += 1;
      return;
    }
    const callStarted = performance.now();
    const call = write(seq).then(
      () => {
        const storedAt = performance.now();
        latencies.push(storedAt - callStarted);
        if (storedAt <= windowEnd) storedInWindow += 1;
      },
      (error: unknown) => {
        countFailure(errors, error);
      },
    );
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  });
  await waitWhile(() => inFlight.size > 0, graceMs);
  const cores = meter.stop();
  const seconds = (performance.now() - startedAt) / 1000;
  const unfinished = inFlight.size;
  await waitWhile(() => inFlight.size > 0, drainMs);
  const cassandraCores = cores.cassandra;
  return {
    offeredPerSecond: rate,
    seconds: round(seconds, 2),
    completed: latencies.length,
    perSecond: round(storedInWindow / (stepMs / 1000)),
    heldBack,
    unfinished,
    latencyMs: percentiles(latencies),
    errors,
    cpuCores: roundCores(cores),
    // CPU-seconds per 1,000 messages stored: cores per 1,000 messages a second.
    cassandraCoresPer1000: cassandraCores === undefined || latencies.length === 0 ? null : round(((cassandraCores * seconds) / latencies.length) * 1000, 3),
  };
}


/** Counts the requests the client got a successful answer to (the driver's own metrics hook); returns the reader. */
function countRequests(client: Client): () => number {
  let answered = 0;
  const { metrics } = client;
  const onSuccessfulResponse = metrics.onSuccessfulResponse.bind(metrics);
  metrics.onSuccessfulResponse = (latency) => {
    answered += 1;
    onSuccessfulResponse(latency);
  };
  return () => answered;
}

async function appendDirectMessage(client: Client, message: ChatMessage): Promise<void> {
  const to = 'user' in message.to ? message.to.user : '';
  const bucket = bucketOfMessageId(message.id);
  const timestamp = types.Long.fromNumber(message.ts).multiply(1000);
  await Promise.all([
    client.execute(CQL.insertConversationBucket, [message.conv, bucket], WRITE),
    client.execute(CQL.upsertUserConversation, [message.from, message.conv, message.id], { ...WRITE, timestamp }),
    client.execute(CQL.upsertUserConversation, [to, message.conv, message.id], { ...WRITE, timestamp }),
  ]);
  await client.execute(CQL.insertMessage, [message.conv, bucket, message.id, message.from, 'user', to, message.text, new Date(message.ts)], WRITE);
}
