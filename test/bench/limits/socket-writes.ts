import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate as breathe, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { CpuGroups } from '../direct-load.js';
import { progress, stopChild } from '../lifecycle.js';
import { startListeningChild, type ListeningChild } from '../listening-child.js';
import { pace } from '../pacer.js';
import { cpuMsEach, meteredCpu, roundCores, type CpuSpan } from '../process-figures.js';
import { round, roundEach } from '../statistics.js';

const SINK_MAIN = fileURLToPath(new URL('./socket-sink.ts', import.meta.url));
/** Bytes a socket may hold unsent at full speed before the writer waits for it to drain. */
const FULL_SPEED_BACKLOG = 64 * 1024;
/** Writes (one to each socket) between the full-speed writer's turns of the event loop. */
const ROUNDS_PER_TURN = 10;
/** How long a step's writes may take to be sent and read after the last, before the step fails. */
const READ_WITHIN_MS = 10_000;

export interface SocketWriteStep {
  /** Writes a second asked for; null: as fast as the writer goes. */
  offeredPerSecond: number | null;
  writes: number;
  /** The span the CPU was measured over: from the first write until the reader had read the last. */
  seconds: number;
  /** Over the writing alone, until the last write had left the writer. */
  writesPerSecond: number;
  /** CPU per write, µs, by group and `machine`: the step's cores less the pacer's own at rest (nothing at full speed). */
  usPerWrite: Record<string, number> | null;
  cpuCores: Record<string, number>;
}

export interface SocketWriteLimits {
  sockets: number;
  bytes: number;
  /** Cores each group used while the pacer ticked with nothing to write: what the paced steps' figures leave out. */
  pacerCpuCores: Record<string, number>;
  steps: SocketWriteStep[];
}

/** A step's CPU span, and how long its writing took until the last write had left the writer. */
export interface MeteredSpan extends CpuSpan {
  writingSeconds: number;
}

/**
 * What a small write to a loopback TCP socket costs on this machine, the unit the chat's
 * path is made of (a frame to a client; a Redis command or a Cassandra request, or a share of
 * one where the client batches them): one process writes `bytes` at a time to `sockets`
 * connections of another that reads and discards, round robin, paced at each rate (the
 * writer and the reader mostly wait between writes, as a node does at chat rates) and then
 * as fast as the writer goes. A step ends once the reader has read all of it.
 */
export async function measureSocketWrites(
  options: { sockets: number; bytes: number; rates: readonly number[]; stepMs: number },
  generator: readonly number[],
): Promise<SocketWriteLimits> {
  if (options.sockets < 1 || options.bytes < 1) throw new RangeError('socket writes need at least one socket and one byte a write');
  const sink = await startListeningChild('the socket sink', SINK_MAIN, process.env);
  const connections = new SinkConnections(sink, options.bytes);
  try {
    const readerPid = sink.child.pid;
    if (readerPid === undefined) throw new Error('the socket sink has no process id');
    await connections.open(options.sockets);
    const cpu: CpuGroups = { writer: generator, reader: [readerPid] };
    const pacer = await connections.metered(cpu, () => pace(Math.max(...options.rates, 1), options.stepMs, () => undefined));
    const steps: SocketWriteStep[] = [];
    for (const rate of options.rates) {
      const before = connections.writes;
      const span = await connections.metered(cpu, () =>
        pace(rate, options.stepMs, (seq) => {
          connections.write(seq);
        }),
      );
      steps.push(stepOf(rate, connections.writes - before, span, pacer.cores));
      progress(`limits: socket writes at ${rate}/s → ${steps.at(-1)?.usPerWrite?.writer ?? '-'} µs of the writer's CPU each`);
    }
    const before = connections.writes;
    const fullSpeed = await connections.metered(cpu, async () => {
      const until = performance.now() + options.stepMs;
      while (performance.now() < until) {
        for (let pass = 0; pass < ROUNDS_PER_TURN * options.sockets; pass++) connections.write(pass);
        await connections.whenBelow(FULL_SPEED_BACKLOG);
      }
    });
    steps.push(stepOf(null, connections.writes - before, fullSpeed, null));
    progress(`limits: socket writes at full speed → ${steps.at(-1)?.writesPerSecond ?? '-'}/s`);
    return { sockets: options.sockets, bytes: options.bytes, pacerCpuCores: roundCores(pacer.cores), steps };
  } finally {
    connections.close();
    await stopChild(sink.child);
  }
}

/** A step's figures; `atRest` (the pacer's own cores) is taken off before dividing by the writes. */
export function stepOf(offeredPerSecond: number | null, writes: number, span: MeteredSpan, atRest: Record<string, number> | null): SocketWriteStep {
  const msPerWrite = cpuMsEach(span, writes, atRest ?? {});
  return {
    offeredPerSecond,
    writes,
    seconds: round(span.seconds, 2),
    writesPerSecond: round(writes / span.writingSeconds),
    usPerWrite: msPerWrite === null ? null : roundEach(Object.fromEntries(Object.entries(msPerWrite).map(([name, ms]) => [name, ms * 1000])), 1),
    cpuCores: roundCores(span.cores),
  };
}

/** The writer's connections to the sink, what went through them, and what the sink says it read. */
class SinkConnections {
  writes = 0;
  private readonly sockets: Socket[] = [];
  private readonly payload: Buffer;
  private received = 0;
  private failure: Error | undefined;

  constructor(
    private readonly sink: ListeningChild,
    private readonly bytes: number,
  ) {
    this.payload = Buffer.alloc(bytes, 'x');
    let pending = '';
    sink.child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^\{"received":(\d+)\}$/.exec(line.trim());
        if (match?.[1] !== undefined) this.received = Number(match[1]);
      }
    });
    sink.child.once('exit', (code, signal) => {
      this.failure ??= new Error(`the socket sink exited (${String(code ?? signal)})`);
    });
  }

  async open(count: number): Promise<void> {
    for (let index = 0; index < count; index++) {
      const socket = createConnection({ host: '127.0.0.1', port: this.sink.port, noDelay: true });
      // Kept for the socket's life: an error after connecting fails the step, not the process.
      socket.on('error', (error) => {
        this.failure ??= error;
      });
      this.sockets.push(socket);
      await once(socket, 'connect');
    }
  }

  /** One write to the socket `seq` picks, round robin. */
  write(seq: number): void {
    this.sockets[seq % this.sockets.length]?.write(this.payload);
    this.writes += 1;
  }

  /** Resolves once no socket holds more than `limit` bytes unsent (at once when none does). */
  async whenBelow(limit: number): Promise<void> {
    const behind = this.sockets.find((socket) => socket.writableLength > limit);
    if (behind === undefined) return breathe();
    await Promise.race([once(behind, 'drain'), once(behind, 'close'), sleep(READ_WITHIN_MS)]);
    this.check();
  }

  /**
   * The cores each group used from the start of `work` until the sink had read every write,
   * and how long the writing took until the last write had left this process.
   */
  async metered(cpu: CpuGroups, work: () => Promise<void>): Promise<MeteredSpan> {
    let writingSeconds = 0;
    const span = await meteredCpu(cpu, async () => {
      const started = performance.now();
      await work();
      await this.until(() => this.sockets.every((socket) => socket.writableLength === 0), 'left this process');
      writingSeconds = (performance.now() - started) / 1000;
      await this.until(() => this.received >= this.writes * this.bytes, 'been read');
    });
    return { ...span, writingSeconds };
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private async until(done: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + READ_WITHIN_MS;
    while (!done()) {
      this.check();
      if (performance.now() > deadline) throw new Error(`${this.writes} writes had not ${what} within ${READ_WITHIN_MS} ms (the sink read ${this.received} bytes)`);
      await sleep(1);
    }
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
