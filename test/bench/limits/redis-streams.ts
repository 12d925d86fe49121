import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { Envelope } from '../../../node/bus/bus.js';
import { ENVELOPE_FIELD } from '../../../node/bus/redis/codec.js';
import { conversationId } from '../../../node/protocol/conversations.js';
import { messageIdGenerator } from '../../../node/protocol/ids.js';
import { progress } from '../lifecycle.js';
import type { CpuGroups } from '../direct-load.js';
import { CpuMeter } from '../process-figures.js';
import { percentiles, round, type Percentiles } from '../statistics.js';
import { runClosedLoop, type ClosedLoopResult } from './closed-loop.js';

/** The bus's defaults (node/bus/redis/bus.ts, inbox-consumer.ts): inbox trimmed to ~10000, reads of up to 100 entries. */
const INBOX_MAX_LENGTH = 10_000;
const READ_BATCH = 100;

export interface XaddStep extends ClosedLoopResult {
  /** XADDs in flight per connection (concurrency / connections). */
  inFlightPerConnection: number;
  cpuCores: Record<string, number>;
}

export interface XreadResult {
  readers: number;
  seconds: number;
  reads: number;
  entries: number;
  entriesPerSecond: number;
  readsPerSecond: number;
  cpuCores: Record<string, number>;
}

export interface StreamThroughResult {
  /** XADDs per second by the writers while the readers consumed. */
  xaddPerSecond: number;
  entriesReadPerSecond: number;
  /** Age of an entry when its reader got it (ms, from the id's time): the bus's consumer lag. */
  entryAgeMs: Percentiles;
  cpuCores: Record<string, number>;
}

export interface RedisStreamLimits {
  /** Connections that write (one per node, auto-pipelined like the node's commands connection) and inboxes read (one per node). */
  nodes: number;
  entryBytes: number;
  xadd: XaddStep[];
  xread: XreadResult;
  /** Writers at the highest XADD concurrency and blocking readers at once, as a bus under load. */
  through: StreamThroughResult;
  peakXaddPerSecond: number;
}

/**
 * Raw Redis stream rates for the bus's pattern: `nodes` connections each XADDing envelopes
 * of a direct message's shape (MAXLEN ~ 10000) to another node's inbox with auto-pipelining
 * and `concurrency` in flight in all; then one reader per inbox doing XREAD COUNT 100 in a
 * loop, as InboxConsumer does; then both at once.
 */
export async function measureRedisStreams(
  redisUrl: string,
  keyPrefix: string,
  options: { nodes: number; concurrency: readonly number[]; stepMs: number; textBytes: number },
  cpu: CpuGroups,
): Promise<RedisStreamLimits> {
  const inboxes = Array.from({ length: options.nodes }, (_, index) => `${keyPrefix}limits:inbox:${index}`);
  const writers = inboxes.map((_, index) => new Redis(redisUrl, { enableAutoPipelining: true, connectionName: `bench-limits-writer-${index}` }));
  const readers = inboxes.map((_, index) => new Redis(redisUrl, { connectionName: `bench-limits-reader-${index}` }));
  const payload = envelopeOfSize(options.textBytes);
  const xadd = (seq: number): Promise<unknown> => {
    const writer = seq % options.nodes;
    const connection = writers[writer];
    const inbox = inboxes[(writer + 1) % options.nodes];
    if (connection === undefined || inbox === undefined) throw new Error('no writer');
    return connection.xadd(inbox, 'MAXLEN', '~', INBOX_MAX_LENGTH, '*', ENVELOPE_FIELD, payload);
  };
  try {
    const xaddSteps: XaddStep[] = [];
    for (const concurrency of options.concurrency) {
      const meter = new CpuMeter(cpu);
      meter.start();
      const result = await runClosedLoop(concurrency, options.stepMs, xadd);
      xaddSteps.push({ ...result, inFlightPerConnection: round(concurrency / options.nodes, 1), cpuCores: roundCores(meter.stop()) });
      progress(`limits: XADD with ${concurrency} in flight → ${result.perSecond}/s, p99 ${result.latencyMs.p99 ?? '-'} ms`);
    }

    const meter = new CpuMeter(cpu);
    meter.start();
    const read = await readInboxes(readers, inboxes, options.stepMs);
    const xread: XreadResult = { ...read, cpuCores: roundCores(meter.stop()) };
    progress(`limits: XREAD COUNT ${READ_BATCH} by ${readers.length} readers → ${xread.entriesPerSecond} entries/s`);

    const through = await writeAndConsume(readers, inboxes, options.stepMs, Math.max(...options.concurrency), xadd, cpu);
    progress(`limits: XADD and XREAD together → ${through.xaddPerSecond} written/s, ${through.entriesReadPerSecond} read/s, entry age p99 ${through.entryAgeMs.p99 ?? '-'} ms`);
    return {
      nodes: options.nodes,
      entryBytes: Buffer.byteLength(payload),
      xadd: xaddSteps,
      xread,
      through,
      peakXaddPerSecond: Math.max(0, ...xaddSteps.map((step) => step.perSecond)),
    };
  } finally {
    await writers[0]?.del(...inboxes).catch(() => undefined);
    for (const connection of [...writers, ...readers]) connection.disconnect();
  }
}

/** An inbox entry as the bus writes one for a direct message with a `textBytes` text. */
function envelopeOfSize(textBytes: number): string {
  const id = messageIdGenerator()(Date.now());
  const [from, to] = ['dm-s0', 'dm-r0'];
  const envelope: Envelope = {
    kind: 'message',
    message: { id, conv: conversationId(from, { user: to }), from, to: { user: to }, text: 'x'.repeat(textBytes), ts: Date.now() },
    acceptedAt: Date.now(),
    users: [to],
    exceptSession: '01JBENCHSESSION0000000000',
  };
  return JSON.stringify(envelope);
}

type XreadReply = [string, [string, string[]][]][] | null;

/** Each reader walks its (filled) inbox with XREAD COUNT 100, one read at a time, from the start again at its end. */
async function readInboxes(readers: readonly Redis[], inboxes: readonly string[], durationMs: number): Promise<Omit<XreadResult, 'cpuCores'>> {
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  let reads = 0;
  let entries = 0;
  await Promise.all(
    readers.map(async (reader, index) => {
      const inbox = inboxes[index] ?? '';
      let cursor = '0-0';
      while (performance.now() < deadline) {
        const reply: XreadReply = await reader.xread('COUNT', READ_BATCH, 'STREAMS', inbox, cursor);
        reads += 1;
        const got = reply?.[0]?.[1] ?? [];
        entries += got.length;
        cursor = got.length === 0 ? '0-0' : (got[got.length - 1]?.[0] ?? '0-0');
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  return { readers: readers.length, seconds: round(seconds, 2), reads, entries, entriesPerSecond: round(entries / seconds), readsPerSecond: round(reads / seconds) };
}

/** Writers and blocking readers (XREAD COUNT 100 BLOCK, from the newest entry on) at once. */
async function writeAndConsume(
  readers: readonly Redis[],
  inboxes: readonly string[],
  durationMs: number,
  concurrency: number,
  xadd: (seq: number) => Promise<unknown>,
  cpu: CpuGroups,
): Promise<StreamThroughResult> {
  const ages: number[] = [];
  let stop = false;
  const meter = new CpuMeter(cpu);
  meter.start();
  const reading = readers.map(async (reader, index) => {
    const inbox = inboxes[index] ?? '';
    let cursor = '$';
    while (!stop) {
      const reply: XreadReply = await reader.xread('COUNT', READ_BATCH, 'BLOCK', 500, 'STREAMS', inbox, cursor);
      const now = Date.now();
      for (const [id] of reply?.[0]?.[1] ?? []) {
        ages.push(now - Number(id.split('-')[0]));
        cursor = id;
      }
    }
  });
  const written = await runClosedLoop(concurrency, durationMs, xadd);
  stop = true;
  await Promise.all(reading);
  const seconds = written.seconds;
  return {
    xaddPerSecond: written.perSecond,
    entriesReadPerSecond: round(ages.length / seconds),
    entryAgeMs: percentiles(ages),
    cpuCores: roundCores(meter.stop()),
  };
}

function roundCores(cores: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(cores).map(([name, value]) => [name, round(value, 2)]));
}
