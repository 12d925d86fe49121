import { types, type Client } from 'cassandra-driver';
import { conversationId } from '../../../node/protocol/conversations.js';
import { messageIdGenerator, messageIdTime } from '../../../node/protocol/ids.js';
import { bucketOfMessageId } from '../../../node/store/buckets.js';
import { cassandraClient, type CassandraConnection } from '../../../node/store/cassandra/client.js';
import { CQL, WRITE } from '../../../node/store/cassandra/queries.js';
import { progress } from '../lifecycle.js';
import type { CpuGroups } from '../direct-load.js';
import { CpuMeter } from '../process-figures.js';
import { round } from '../statistics.js';
import { runClosedLoop, type ClosedLoopResult } from './closed-loop.js';

/**
 * The Cassandra statements of one stored direct message, as CassandraStore.appendMessage
 * (node/store/cassandra/store.ts) issues them: the conversation's bucket row and both
 * participants' sync rows in parallel, then the message row; all prepared, LOCAL_QUORUM
 * (WRITE in queries.ts), the sync rows at the message's own write time.
 */
export const WRITES_PER_DIRECT_MESSAGE = 4;

export interface CassandraWriteStep extends ClosedLoopResult {
  /** Statements per second: messages per second × WRITES_PER_DIRECT_MESSAGE. */
  writesPerSecond: number;
  cpuCores: Record<string, number>;
}

export interface CassandraWriteLimits {
  writesPerMessage: number;
  textBytes: number;
  /** One step per number of messages in flight (the node has one in flight per send it is storing). */
  steps: CassandraWriteStep[];
  peakMessagesPerSecond: number;
}

/**
 * The most direct messages per second Cassandra stores on this machine: the statements of
 * appendMessage issued straight from cassandra-driver (the node's client settings), with
 * `concurrency` messages in flight for `stepMs` each, into `keyspace` (already migrated).
 */
export async function measureCassandraWrites(
  connection: CassandraConnection,
  options: { concurrency: readonly number[]; stepMs: number; warmupMs: number; pairs: number; textBytes: number },
  cpu: CpuGroups,
): Promise<CassandraWriteLimits> {
  const client = cassandraClient(connection);
  await client.connect();
  try {
    const nextId = messageIdGenerator();
    const text = 'x'.repeat(options.textBytes);
    const append = (seq: number): Promise<void> => {
      const pair = seq % options.pairs;
      return appendDirectMessage(client, nextId(Date.now()), `dm-s${pair}`, `dm-r${pair}`, text);
    };
    progress(`limits: Cassandra warm-up for ${options.warmupMs} ms`);
    await runClosedLoop(options.concurrency[0] ?? 32, options.warmupMs, append);
    const steps: CassandraWriteStep[] = [];
    for (const concurrency of options.concurrency) {
      const meter = new CpuMeter(cpu);
      meter.start();
      const result = await runClosedLoop(concurrency, options.stepMs, append);
      const cpuCores = Object.fromEntries(Object.entries(meter.stop()).map(([name, cores]) => [name, round(cores, 2)]));
      steps.push({ ...result, writesPerSecond: round(result.perSecond * WRITES_PER_DIRECT_MESSAGE), cpuCores });
      progress(`limits: Cassandra, ${concurrency} messages in flight → ${result.perSecond} messages/s, p99 ${result.latencyMs.p99 ?? '-'} ms`);
    }
    return {
      writesPerMessage: WRITES_PER_DIRECT_MESSAGE,
      textBytes: options.textBytes,
      steps,
      peakMessagesPerSecond: Math.max(0, ...steps.map((step) => step.perSecond)),
    };
  } finally {
    await client.shutdown();
  }
}

async function appendDirectMessage(client: Client, id: string, from: string, to: string, text: string): Promise<void> {
  const conv = conversationId(from, { user: to });
  const bucket = bucketOfMessageId(id);
  const ts = messageIdTime(id);
  const timestamp = types.Long.fromNumber(ts).multiply(1000);
  await Promise.all([
    client.execute(CQL.insertConversationBucket, [conv, bucket], WRITE),
    client.execute(CQL.upsertUserConversation, [from, conv, id], { ...WRITE, timestamp }),
    client.execute(CQL.upsertUserConversation, [to, conv, id], { ...WRITE, timestamp }),
  ]);
  await client.execute(CQL.insertMessage, [conv, bucket, id, from, 'user', to, text, new Date(ts)], WRITE);
}
