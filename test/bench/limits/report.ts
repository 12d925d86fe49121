import { table } from '../report.js';
import type { CassandraWriteLimits } from './cassandra-writes.js';
import type { RedisStreamLimits } from './redis-streams.js';

/** The machine's limits for the design: Cassandra writes of a direct message, Redis stream rates. */
export function formatLimits(cassandra: CassandraWriteLimits | null, redis: RedisStreamLimits | null): string {
  const parts = ['Limits of this machine for the design (no chat node in the way; the generator process issues the commands)'];
  if (cassandra !== null) {
    parts.push(
      `Cassandra: the ${cassandra.writesPerMessage} prepared LOCAL_QUORUM writes of one stored direct message (conversation bucket, ` +
        `2 sync rows in parallel, then the ${cassandra.textBytes}-byte message row), straight from cassandra-driver with the node's client settings`,
      table(
        ['messages in flight', 'messages/s', 'writes/s', 'p50 ms', 'p99 ms', 'cpu cassandra', 'cpu generator', 'cpu other', 'errors'],
        cassandra.steps.map((step) => [
          step.concurrency,
          step.perSecond,
          step.writesPerSecond,
          step.latencyMs.p50,
          step.latencyMs.p99,
          step.cpuCores.cassandra,
          step.cpuCores.generator,
          step.cpuCores.other,
          Object.keys(step.errors).length === 0 ? '-' : Object.entries(step.errors).map(([message, count]) => `${count}× ${message}`).join('; '),
        ]),
      ),
      `latency = one message's 4 writes (3 in parallel, then 1). Peak: ${cassandra.peakMessagesPerSecond} messages/s.`,
    );
  }
  if (redis !== null) {
    parts.push(
      `Redis streams: ${redis.nodes} writer connections with auto-pipelining (as a node's commands connection), XADD MAXLEN ~ 10000 of a ` +
        `${redis.entryBytes}-byte direct-message envelope to another node's inbox; one reader per inbox, XREAD COUNT 100 one at a time (as InboxConsumer)`,
      table(
        ['XADDs in flight', 'per connection', 'XADD/s', 'p50 ms', 'p99 ms', 'cpu redis', 'cpu generator', 'cpu other'],
        redis.xadd.map((step) => [step.concurrency, step.inFlightPerConnection, step.perSecond, step.latencyMs.p50, step.latencyMs.p99, step.cpuCores.redis, step.cpuCores.generator, step.cpuCores.other]),
      ),
      `XREAD alone (full inboxes): ${redis.xread.entriesPerSecond} entries/s in ${redis.xread.readsPerSecond} reads/s by ${redis.xread.readers} readers ` +
        `(cpu redis ${redis.xread.cpuCores.redis ?? '-'}, generator ${redis.xread.cpuCores.generator ?? '-'})`,
      `XADD and blocking XREAD together: ${redis.through.xaddPerSecond} written/s, ${redis.through.entriesReadPerSecond} read/s, ` +
        `entry age when read p50 ${redis.through.entryAgeMs.p50 ?? '-'} ms, p99 ${redis.through.entryAgeMs.p99 ?? '-'} ms ` +
        `(cpu redis ${redis.through.cpuCores.redis ?? '-'}, generator ${redis.through.cpuCores.generator ?? '-'})`,
      'A direct message across nodes costs the bus one XADD and its share of an XREAD; the generator is one Node.js process, so where\n' +
        'cpu generator nears 1 the figure is the client\'s limit as much as Redis\'s (a node is one such process too).',
    );
  }
  return parts.join('\n\n');
}
