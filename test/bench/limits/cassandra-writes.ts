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
import { CpuMeter } from '../process-figures.js';
import { round } from '../statistics.js';
import { runClosedLoop, type ClosedLoopResult } from './closed-loop.js';

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

export interface CassandraWriteLimits {
  textBytes: number;
  /** One step per path and number of messages in flight (a node has one in flight per send it is storing). */
  steps: CassandraWriteStep[];
  peakMessagesPerSecond: Record<WritePath, number>;
}

/**
 * The most direct messages per second Cassandra stores on this machine without a node in
 * the way, each path with `concurrency` messages in flight for `stepMs` per step, into
 * `keyspace` (already migrated).
 */
export async function measureCassandraWrites(
  connection: CassandraConnection,
  options: { concurrency: readonly number[]; stepMs: number; warmupMs: number; pairs: number; textBytes: number },
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
        const cpuCores = Object.fromEntries(Object.entries(meter.stop()).map(([name, cores]) => [name, round(cores, 2)]));
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
    const peak = (path: WritePath): number => Math.max(0, ...steps.filter((step) => step.path === path).map((step) => step.perSecond));
    return { textBytes: options.textBytes, steps, peakMessagesPerSecond: { statements: peak('statements'), store: peak('store') } };
  } finally {
    await client.shutdown();
  }
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
