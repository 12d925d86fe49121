import { createConnection, type Socket } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setImmediate as breathe, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { CpuGroups } from '../direct-load.js';
import { progress, stopChild } from '../lifecycle.js';
import { startListeningChild } from '../listening-child.js';
import { pace } from '../pacer.js';
import { meteredCpu, roundCores, type CpuSpan } from '../process-figures.js';
import { round } from '../statistics.js';

const SINK_MAIN = fileURLToPath(new URL('./socket-sink.ts', import.meta.url));
/** How long the reader gets after a step's last write before the meters stop. */
const SETTLE_MS = 200;
/** Bytes a socket may hold unsent at full speed before the writer waits for it to drain. */
const FULL_SPEED_BACKLOG = 64 * 1024;
/** Writes (one to each socket) between the full-speed writer's turns of the event loop. */
const ROUNDS_PER_TURN = 10;

export interface SocketWriteStep {
  /** Writes a second asked for; null: as fast as the writer goes. */
  offeredPerSecond: number | null;
  writes: number;
  /** The span the CPU was measured over: the writing, and a moment for the reader to finish. */
  seconds: number;
  /** Over the writing alone. */
  writesPerSecond: number;
  /** CPU per write, µs: the step's cores less the pacer's own at rest (none at full speed), over its span. */
  usPerWrite: Record<string, number | null>;
  cpuCores: Record<string, number>;
}

export interface SocketWriteLimits {
  sockets: number;
  bytes: number;
  /** Cores each group used while the pacer ticked with nothing to write: what the paced steps' figures leave out. */
  pacerCpuCores: Record<string, number>;
  steps: SocketWriteStep[];
}

/**
 * What a small write to a loopback TCP socket costs on this machine, the unit every part of
 * the chat's path is made of (a frame to a client, a Redis command, a Cassandra request):
 * one process writes `bytes` at a time to `sockets` connections of another that reads and
 * discards, round robin, paced at each rate (the writer and the reader mostly wait between
 * writes, as a node does at chat rates) and then as fast as the writer goes.
 */
export async function measureSocketWrites(
  options: { sockets: number; bytes: number; rates: readonly number[]; stepMs: number },
  generator: readonly number[],
): Promise<SocketWriteLimits> {
  const sink = await startListeningChild('the socket sink', SINK_MAIN, process.env);
  const sockets: Socket[] = [];
  try {
    for (let index = 0; index < options.sockets; index++) sockets.push(await connect(sink.port));
    const cpu: CpuGroups = { writer: generator, reader: sink.child.pid === undefined ? [] : [sink.child.pid] };
    const payload = Buffer.alloc(options.bytes, 'x');
    const write = (seq: number): void => {
      sockets[seq % sockets.length]?.write(payload);
    };
    const pacerCpuCores = await metered(cpu, () => pace(Math.max(...options.rates, 1), options.stepMs, () => undefined));
    const steps: SocketWriteStep[] = [];
    for (const rate of options.rates) {
      let writes = 0;
      const span = await metered(cpu, () =>
        pace(rate, options.stepMs, (seq) => {
          write(seq);
          writes += 1;
        }),
      );
      steps.push(stepOf(rate, writes, span, pacerCpuCores.cores));
      progress(`limits: socket writes at ${rate}/s → ${steps.at(-1)?.usPerWrite.writer ?? '-'} µs of the writer's CPU each`);
    }
    let writes = 0;
    const fullSpeed = await metered(cpu, async () => {
      const until = performance.now() + options.stepMs;
      while (performance.now() < until) {
        for (let pass = 0; pass < ROUNDS_PER_TURN; pass++) for (let index = 0; index < sockets.length; index++) write(writes++);
        const behind = sockets.find((socket) => socket.writableLength > FULL_SPEED_BACKLOG);
        await (behind === undefined ? breathe() : once(behind, 'drain'));
      }
    });
    steps.push(stepOf(null, writes, fullSpeed, null));
    progress(`limits: socket writes at full speed → ${steps.at(-1)?.writesPerSecond ?? '-'}/s`);
    return { sockets: options.sockets, bytes: options.bytes, pacerCpuCores: roundCores(pacerCpuCores.cores), steps };
  } finally {
    for (const socket of sockets) socket.destroy();
    await stopChild(sink.child);
  }
}

/** A step's CPU: from the first write until the reader had had a moment to read the last. */
export interface MeteredSpan extends CpuSpan {
  /** How long the writing itself took. */
  writingSeconds: number;
}

async function metered(cpu: CpuGroups, work: () => Promise<void>): Promise<MeteredSpan> {
  let writingSeconds = 0;
  const { cores, seconds } = await meteredCpu(cpu, async () => {
    const started = performance.now();
    await work();
    writingSeconds = (performance.now() - started) / 1000;
    await sleep(SETTLE_MS);
  });
  return { cores, seconds, writingSeconds };
}

/** A step's figures; `atRest` (the pacer's own cores) is taken off before dividing by the writes. */
export function stepOf(offeredPerSecond: number | null, writes: number, span: MeteredSpan, atRest: Record<string, number> | null): SocketWriteStep {
  const usPerWrite = Object.fromEntries(
    Object.entries(span.cores)
      .filter(([name]) => name !== 'other')
      .map(([name, cores]) => [name, writes === 0 ? null : round(((cores - (atRest?.[name] ?? 0)) * span.seconds * 1e6) / writes, 1)]),
  );
  return { offeredPerSecond, writes, seconds: round(span.seconds, 2), writesPerSecond: round(writes / span.writingSeconds), usPerWrite, cpuCores: roundCores(span.cores) };
}

async function connect(port: number): Promise<Socket> {
  const socket = createConnection({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
}
