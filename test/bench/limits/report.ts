import { table } from '../report.js';
import type { CassandraWriteLimits } from './cassandra-writes.js';
import type { RedisStreamLimits } from './redis-streams.js';
import type { SocketWriteLimits } from './socket-writes.js';

/** The machine's limits for the design: Cassandra writes of a direct message, Redis stream rates, loopback socket writes. */
export function formatLimits(cassandra: CassandraWriteLimits | null, redis: RedisStreamLimits | null, sockets: SocketWriteLimits | null = null): string {
  const parts = ['Limits of this machine for the design (no chat node in the way; the generator process issues the commands)'];
  if (cassandra !== null) {
    parts.push(
      'Cassandra: one stored direct message with a ' + `${cassandra.textBytes}-byte text, no node in the way, a client with the node's settings; ` +
        'statements = the 4 prepared LOCAL_QUORUM writes appendMessage issued when this bench was written (conversation bucket and 2 sync rows ' +
        'in parallel, then the message row) straight from cassandra-driver; store = CassandraStore.appendMessage as it is now',
      table(
        ['path', 'messages in flight', 'messages/s', 'requests/s', 'requests/msg', 'p50 ms', 'p99 ms', 'cpu cassandra', 'cpu generator', 'cpu other', 'errors'],
        cassandra.steps.map((step) => [
          step.path,
          step.concurrency,
          step.perSecond,
          step.requestsPerSecond,
          step.requestsPerMessage,
          step.latencyMs.p50,
          step.latencyMs.p99,
          step.cpuCores.cassandra,
          step.cpuCores.generator,
          step.cpuCores.other,
          formatErrors(step.errors),
        ]),
      ),
      `requests = driver requests answered (a statement or a batch); latency = one whole message. Peak: statements ${cassandra.peakMessagesPerSecond.statements} ` +
        `messages/s, store ${cassandra.peakMessagesPerSecond.store} messages/s.`,
    );
    if (cassandra.paced.length > 0) {
      const idle = cassandra.idleCpuCores;
      parts.push(
        'Cassandra at steady offered rates: the store path started at each rate, every write without waiting for the others (as ' +
          'nodes store sends); what Cassandra alone costs per message at that rate, the floor under the chat\'s server cores there',
        table(
          ['offered msg/s', 'stored/s', 'held back', 'unfinished', 'p50 ms', 'p99 ms', 'cpu cassandra', 'cassandra cores per 1000 msg/s', 'cpu generator', 'errors'],
          cassandra.paced.map((step) => [
            step.offeredPerSecond,
            step.perSecond,
            step.heldBack,
            step.unfinished,
            step.latencyMs.p50,
            step.latencyMs.p99,
            step.cpuCores.cassandra,
            step.cassandraCoresPer1000,
            step.cpuCores.generator,
            formatErrors(step.errors),
          ]),
        ),
        `Idle just before (nothing written): cpu cassandra ${idle?.cassandra ?? '-'}, generator ${idle?.generator ?? '-'}. ` +
          'held back = writes not started while 2 s of them (at least 200) were awaited; unfinished = still running 5 s after the window.',
      );
    }
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
  if (sockets !== null) {
    parts.push(
      `Loopback socket writes: ${sockets.bytes} bytes at a time from one process to ${sockets.sockets} connections of another that reads and discards, ` +
        'round robin; paced (both sides mostly wait between writes, as a node does at chat rates), then as fast as the writer goes. ' +
        'On the chat\'s path each frame to a client is one such write and one such read, and each Redis command or Cassandra request one, or a share of one where the client batches them',
      table(
        ['offered writes/s', 'writes/s', 'writer µs/write', 'reader µs/write', 'machine µs/write', 'cpu writer', 'cpu reader', 'cpu machine', 'cpu other'],
        sockets.steps.map((step) => [
          step.offeredPerSecond ?? 'full speed',
          step.writesPerSecond,
          step.usPerWrite?.writer,
          step.usPerWrite?.reader,
          step.usPerWrite?.machine,
          step.cpuCores.writer,
          step.cpuCores.reader,
          step.cpuCores.machine,
          step.cpuCores.other,
        ]),
      ),
      `a step lasts until the reader has read every write; µs/write = CPU over the step less the pacer ticking with nothing to write (writer ${sockets.pacerCpuCores.writer ?? '-'}, reader ` +
        `${sockets.pacerCpuCores.reader ?? '-'}, machine ${sockets.pacerCpuCores.machine ?? '-'} cores), per write; at full speed nothing is taken off; cpu other = the rest of the machine meanwhile (e.g. Cassandra settling after its own steps), which machine µs/write counts too`,
    );
  }
  return parts.join('\n\n');
}

function formatErrors(errors: Record<string, number>): string {
  return Object.keys(errors).length === 0 ? '-' : Object.entries(errors).map(([message, count]) => `${count}× ${message}`).join('; ');
}
