import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { type RawData } from 'ws';
import { round, roundEach } from './statistics.js';

/** Prometheus text format, flattened: `name{labels}` → value (one sample per line). */
export async function readMetrics(metricsUrl: string): Promise<Map<string, number>> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${metricsUrl} answered HTTP ${response.status}`);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** A metric's value; throws naming it when the process does not export it. */
export function metric(samples: Map<string, number>, name: string): number {
  const value = samples.get(name);
  if (value === undefined || Number.isNaN(value)) throw new Error(`metric ${name} missing`);
  return value;
}

/** The chat nodes' store timings (by `operation`), which the direct and storm scenarios read. */
export const STORE_LATENCY = 'chat_store_latency_seconds';

/**
 * Mean of a Prometheus histogram between two scrapes of several processes, in ms:
 * (Σ sum_after − Σ sum_before) / (Σ count_after − Σ count_before); null when nothing was observed.
 */
export function histogramMeanMs(
  before: readonly Map<string, number>[],
  after: readonly Map<string, number>[],
  name: string,
  labels = '',
): number | null {
  const count = histogramCount(before, after, name, labels);
  if (count <= 0) return null;
  return round((sumBetween(before, after, `${name}_sum${labels}`) / count) * 1000, 2);
}

/** Observations of a Prometheus histogram between two scrapes of several processes. */
export function histogramCount(before: readonly Map<string, number>[], after: readonly Map<string, number>[], name: string, labels = ''): number {
  return sumBetween(before, after, `${name}_count${labels}`);
}

/** One sample summed over the processes, after less before. */
function sumBetween(before: readonly Map<string, number>[], after: readonly Map<string, number>[], sample: string): number {
  const total = (scrapes: readonly Map<string, number>[]): number => scrapes.reduce((sum, samples) => sum + (samples.get(sample) ?? 0), 0);
  return total(after) - total(before);
}

/**
 * A quantile (0 to 1) of a Prometheus histogram between two scrapes of several processes, in
 * ms, estimated as Prometheus's histogram_quantile does: linearly within the bucket it falls
 * in. Null when nothing was observed; the highest finite bound when it falls past it.
 * `labels` (`{operation="append_message"}`, as histogramMeanMs takes them) picks one series;
 * without them every series of the histogram counts.
 */
export function histogramQuantileMs(
  before: readonly Map<string, number>[],
  after: readonly Map<string, number>[],
  name: string,
  quantile: number,
  labels = '',
): number | null {
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`a quantile is between 0 and 1, not ${quantile}`);
  const prefix = `${name}_bucket{le="`;
  // prom-client writes `le` first: `name_bucket{le="0.1",operation="append_message"}`.
  const series = labels === '' ? '' : `,${labels.slice(1, -1)}}`;
  // Upper bound (s) → observations at or below it, between the scrapes, over all processes.
  const cumulative = new Map<number, number>();
  const add = (scrapes: readonly Map<string, number>[], sign: 1 | -1): void => {
    for (const samples of scrapes) {
      for (const [key, value] of samples) {
        if (!key.startsWith(prefix) || !key.endsWith(series)) continue;
        const bound = key.slice(prefix.length, key.indexOf('"', prefix.length));
        const upper = bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound);
        cumulative.set(upper, (cumulative.get(upper) ?? 0) + sign * value);
      }
    }
  };
  add(after, 1);
  add(before, -1);
  const observed = cumulative.get(Number.POSITIVE_INFINITY) ?? 0;
  if (observed <= 0) return null;
  const rank = quantile * observed;
  let lower = 0;
  let below = 0;
  for (const upper of [...cumulative.keys()].sort((a, b) => a - b)) {
    const atOrBelow = cumulative.get(upper) ?? 0;
    if (atOrBelow >= rank && atOrBelow > below) {
      const seconds = upper === Number.POSITIVE_INFINITY ? lower : lower + ((upper - lower) * (rank - below)) / (atOrBelow - below);
      return round(seconds * 1000, 2);
    }
    lower = upper;
    below = atOrBelow;
  }
  return null;
}

/** Memory of a Node.js process as its default Prometheus metrics report it. */
export interface MemorySample {
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
}

/** `env` with Node.js's inspector on a free loopback port (Inspector.attach finds it in the process's stderr). */
export function withInspector(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, '--inspect=127.0.0.1:0'].filter((part) => part !== undefined && part !== '').join(' ') };
}

/**
 * The inspector of a Node.js process started with `--inspect=127.0.0.1:0`: the only way
 * to force a full garbage collection in a process whose code we do not change.
 */
export class Inspector {
  private nextId = 0;
  private readonly pending = new Map<number, (reply: { result?: unknown; error?: unknown }) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: RawData) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
      const reply = JSON.parse(text) as { id?: number; result?: unknown; error?: unknown };
      if (reply.id === undefined) return;
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  /** Attaches to the process whose stderr `output` will show the inspector's address. */
  static async attach(output: readonly string[], timeoutMs = 15_000): Promise<Inspector> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const address = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(output.join(''))?.[1];
      if (address !== undefined) {
        const socket = new WebSocket(address, { perMessageDeflate: false });
        await new Promise<void>((resolve, reject) => {
          socket.once('open', () => {
            resolve();
          });
          socket.once('error', reject);
        });
        return new Inspector(socket);
      }
      if (Date.now() > deadline) throw new Error(`no inspector address in the process output within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** A full, blocking garbage collection in the inspected process. */
  async collectGarbage(timeoutMs = 30_000): Promise<void> {
    await this.call('HeapProfiler.collectGarbage', {}, timeoutMs);
  }

  /** The process's own `process.memoryUsage()`: the figures prom-client's default metrics report, for any Node.js process. */
  async memoryUsage(timeoutMs = 10_000): Promise<MemorySample> {
    const reply = (await this.call('Runtime.evaluate', { expression: 'process.memoryUsage()', returnByValue: true }, timeoutMs)) as {
      result?: { value?: { rss?: number; heapUsed?: number; external?: number } };
    };
    const usage = reply.result?.value;
    if (usage?.rss === undefined || usage.heapUsed === undefined || usage.external === undefined) throw new Error('process.memoryUsage() gave no figures through the inspector');
    return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, externalBytes: usage.external };
  }

  /** Sends a DevTools protocol command and resolves with its result. */
  private call(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} did not answer`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.error !== undefined) reject(new Error(`${method} failed: ${JSON.stringify(reply.error)}`));
        else resolve(reply.result);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * Waits `quietMs` (timers, in-flight writes finish), then runs two full GCs a moment apart
 * (the second frees what finalizers of the first released), then lets the process settle.
 */
async function settle(quietMs: number, collectGarbage: () => Promise<void>): Promise<void> {
  await sleep(quietMs);
  for (let collection = 0; collection < 2; collection++) {
    await collectGarbage();
    await sleep(250);
  }
}

/** A Node.js process's memory after a forced settle, as it reports it (`process.memoryUsage()`). */
export async function settledMemory(inspector: Inspector, quietMs = 2_000): Promise<MemorySample> {
  await settle(quietMs, () => inspector.collectGarbage());
  return inspector.memoryUsage();
}

/**
 * A Go server's memory after a settle, its GCs run through its pprof heap endpoint with
 * `gc=1`: then its Prometheus metrics' resident set, live heap, and goroutine stacks as
 * "external" (a Go socket's reader and writer goroutines keep their stacks outside the heap).
 * Go returns freed pages to the OS lazily, so its RSS falls more slowly than its heap.
 */
export async function settledGoMemory(baseUrl: string, quietMs = 2_000): Promise<MemorySample> {
  await settle(quietMs, async () => {
    const response = await fetch(`${baseUrl}/debug/pprof/heap?gc=1`, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`${baseUrl}/debug/pprof/heap answered ${response.status}`);
    await response.arrayBuffer();
  });
  const samples = await readMetrics(`${baseUrl}/metrics`);
  return {
    rssBytes: metric(samples, 'process_resident_memory_bytes'),
    heapUsedBytes: metric(samples, 'go_memstats_heap_alloc_bytes'),
    externalBytes: metric(samples, 'go_memstats_stack_inuse_bytes'),
  };
}

/** Cores per group, to two decimals (as the bench reports them). */
export function roundCores(cores: Record<string, number>): Record<string, number> {
  return roundEach(cores, 2);
}

/** Cores each group of processes used (CpuMeter's figures) over a span of `seconds`. */
export interface CpuSpan {
  cores: Record<string, number>;
  seconds: number;
}

/** What `work` resolved to, and the cores each group used while it ran. */
export async function meteredCpu<T>(groups: Record<string, readonly number[]>, work: () => Promise<T>): Promise<{ result: T } & CpuSpan> {
  const meter = new CpuMeter(groups);
  meter.start();
  const result = await work();
  return { result, ...meter.stopSpan() };
}

/**
 * CPU ms each group spent per thing done over a span: its cores less `atRest` (what it uses
 * doing nothing), times the span, over `count`; `other` is no group's and is left out.
 * Unrounded; null when nothing was done.
 */
export function cpuMsEach(span: CpuSpan, count: number, atRest: Readonly<Record<string, number>> = {}): Record<string, number> | null {
  if (count <= 0) return null;
  return Object.fromEntries(
    Object.entries(span.cores)
      .filter(([name]) => name !== 'other')
      .map(([name, cores]) => [name, ((cores - (atRest[name] ?? 0)) * span.seconds * 1000) / count]),
  );
}

/** Cores each group uses over `ms` while nothing is asked of it: a measurement's baseline, rounded as reported. */
export async function coresAtRest(groups: Record<string, readonly number[]>, ms: number): Promise<Record<string, number>> {
  return roundCores((await meteredCpu(groups, () => sleep(ms))).cores);
}

/** How long coresOnceQuiet waits at most for the servers to finish what came before. */
const QUIET_WITHIN_MS = 15_000;
/** Below this many cores in all (every group but the generator), over a second, the servers count as quiet. */
const QUIET_CORES = 0.15;

/**
 * Waits (up to 15 s) until every group but `generator` (the load's own process) uses under
 * 0.15 cores over a second, so work left from before (sockets closed a moment ago) is not
 * measured as the next step's, then returns their cores at rest over `ms`: the step's baseline.
 */
export async function coresOnceQuiet(groups: Record<string, readonly number[]>, ms: number): Promise<Record<string, number>> {
  const servers = Object.fromEntries(Object.entries(groups).filter(([name]) => name !== 'generator'));
  const serverCores = (cores: Record<string, number>): number => Object.keys(servers).reduce((sum, name) => sum + (cores[name] ?? 0), 0);
  const deadline = performance.now() + QUIET_WITHIN_MS;
  for (;;) {
    const quiet = serverCores(await coresAtRest(servers, 1_000)) < QUIET_CORES;
    if (quiet || performance.now() >= deadline) break;
  }
  return coresAtRest(groups, ms);
}

/**
 * How long the kernel may defer a process's timed sleeps (ns), from /proc; undefined once it
 * is gone, or when this process may not read it (another process's needs CAP_SYS_NICE).
 */
export function timerSlackNs(pid: number): number | undefined {
  const slack = readIfThere(`/proc/${pid}/timerslack_ns`);
  return slack === undefined ? undefined : Number(slack);
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; undefined once it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds in a /proc `stat` file (a process's or a thread's); undefined when it cannot be read. */
function statCpuSeconds(path: string): number | undefined {
  const stat = readIfThere(path);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** HotSpot names its JIT compiler threads `C1 CompilerThread<n>` and `C2 CompilerThread<n>` (cut to 15 characters). */
const JIT_COMPILER_THREAD = /^C[12] CompilerThre/;

/**
 * One figure of each of a process's threads, by thread id, from /proc: what `read` makes of
 * the thread's directory, for the threads it gives one. Undefined once the process is gone.
 */
function perThread(pid: number, read: (dir: string) => number | undefined): Map<string, number> | undefined {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const figures = new Map<string, number>();
  for (const thread of threads) {
    const figure = read(`/proc/${pid}/task/${thread}`);
    if (figure !== undefined) figures.set(thread, figure);
  }
  return figures;
}

/** A /proc file's text; undefined when it cannot be read (its process or thread ended, or it is not ours to read). */
function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds each of a JVM's JIT compiler threads has used so far, by thread id, from /proc;
 * undefined once the process is gone. HotSpot starts and stops compiler threads as work comes
 * and goes, so a span's compiling is the growth of each thread (from 0 for one born in it).
 */
export function jitCompilerCpuSeconds(pid: number): Map<string, number> | undefined {
  return perThread(pid, (dir) => (JIT_COMPILER_THREAD.test(readIfThere(`${dir}/comm`) ?? '') ? statCpuSeconds(`${dir}/stat`) : undefined));
}

/**
 * How often each thread of a process has gone to sleep so far (its voluntary context switches:
 * it blocked in epoll, a futex or a read, so something had to wake it again), by thread id,
 * from /proc; undefined once the process is gone. A span's count is each thread's growth
 * (growthBetween). Beside the cores, it says whether a process's cost per message goes in
 * being woken for it or in the work it then does.
 */
export function wakeUpsByThread(pid: number): Map<string, number> | undefined {
  return perThread(pid, (dir) => {
    const status = readIfThere(`${dir}/status`);
    return status === undefined ? undefined : voluntarySwitches(status);
  });
}

/** The `voluntary_ctxt_switches` of a /proc `status` file; undefined when it has none. */
export function voluntarySwitches(status: string): number | undefined {
  const match = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Whether this kernel keeps scheduler statistics (the run delay); without them every wait would read as none. */
const SCHEDSTAT_READABLE = existsSync('/proc/self/schedstat');

/**
 * Seconds each thread of a process has so far spent ready to run with no core to run on (the
 * run delay, the second figure of /proc/<pid>/task/<tid>/schedstat), by thread id; undefined
 * once the process is gone. Beside the cores a process used, it says how much longer its work
 * took because every core was busy: on a full machine, queues that no profile shows.
 */
export function runQueueSecondsByThread(pid: number): Map<string, number> | undefined {
  return perThread(pid, (dir) => {
    const delayNs = Number((readIfThere(`${dir}/schedstat`) ?? '').split(' ')[1]);
    return Number.isFinite(delayNs) ? delayNs / 1e9 : undefined;
  });
}

/**
 * How much per-thread counters grew between two readings (of jitCompilerCpuSeconds or
 * wakeUpsByThread): a thread born in between counts from nothing, one that ended in between
 * is not counted (its last figures went with it).
 */
export function growthBetween(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): number {
  let growth = 0;
  for (const [thread, figure] of after) growth += figure - (before.get(thread) ?? 0);
  return growth;
}

/**
 * Connections this machine's kernel dropped because a listening socket's accept queue was
 * full (TcpExt ListenOverflows in /proc/net/netstat, for the whole network namespace);
 * undefined where /proc does not say.
 */
export function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const header = lines.findIndex((line) => line.startsWith('TcpExt:'));
    const names = (lines[header] ?? '').split(' ');
    const values = (lines[header + 1] ?? '').split(' ');
    const value = Number(values[names.indexOf('ListenOverflows')]);
    return header === -1 || Number.isNaN(value) ? undefined : value;
  } catch {
    return undefined;
  }
}

/** A per-thread counter (wakeUpsByThread, runQueueSecondsByThread), read at a start and again when asked. */
class ThreadCounter {
  private readonly atStart = new Map<number, Map<string, number>>();

  constructor(private readonly read: (pid: number) => Map<string, number> | undefined) {}

  start(pids: readonly number[]): void {
    for (const pid of pids) this.atStart.set(pid, this.read(pid) ?? new Map<string, number>());
  }

  /** The processes' growth since start (growthBetween); a process that is gone counts nothing. */
  since(pids: readonly number[]): number {
    return pids.reduce((sum, pid) => sum + growthBetween(this.atStart.get(pid) ?? new Map<string, number>(), this.read(pid) ?? new Map<string, number>()), 0);
  }
}

/** CPU seconds the whole machine has been busy (all cores, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return (total - (fields[3] ?? 0) - (fields[4] ?? 0)) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * Measures CPU of named process groups over an interval: cores used on average. It adds
 * `machine` (every process) and `other` (machine minus the groups): how much of the box
 * something else (e.g. a concurrent test run) took meanwhile. Made with `{ threads: true }`,
 * it also counts, over the same interval, how often each group's threads were woken
 * (wakeUpsSinceStart) and how long they waited for a core (runQueueSecondsSinceStart);
 * reading every thread's files at each start is not free, so only the meters that report
 * them pay for it.
 */
export class CpuMeter {
  private readonly started = new Map<string, number>();
  /** Undefined when the meter does not read its groups' threads; no run-queue counter where the kernel keeps no run delay. */
  private readonly threads: { wakeUps: ThreadCounter; runQueueSeconds: ThreadCounter | undefined } | undefined;
  private startedAt = 0;
  private machineAtStart = 0;

  private readonly groups: Record<string, readonly number[]>;

  /** Groups with no process (a server this run did not start) are left out, not reported as idle. */
  constructor(groups: Record<string, readonly number[]>, options: { threads?: boolean } = {}) {
    this.groups = Object.fromEntries(Object.entries(groups).filter(([, pids]) => pids.length > 0));
    this.threads =
      options.threads === true
        ? { wakeUps: new ThreadCounter(wakeUpsByThread), runQueueSeconds: SCHEDSTAT_READABLE ? new ThreadCounter(runQueueSecondsByThread) : undefined }
        : undefined;
  }

  start(): void {
    this.startedAt = performance.now();
    this.machineAtStart = machineBusySeconds();
    for (const [name, pids] of Object.entries(this.groups)) {
      this.started.set(name, this.total(pids));
      this.threads?.wakeUps.start(pids);
      this.threads?.runQueueSeconds?.start(pids);
    }
  }

  /** Times each group's threads were woken since `start` (wakeUpsByThread); a thread that ended meanwhile is not counted. */
  wakeUpsSinceStart(): Record<string, number> {
    return this.growthOf(this.startedThreads('wakeUps').wakeUps);
  }

  /**
   * Seconds each group's threads waited for a core since `start` (runQueueSecondsByThread),
   * likewise; undefined where the kernel keeps no run delay.
   */
  runQueueSecondsSinceStart(): Record<string, number> | undefined {
    const counter = this.startedThreads('runQueueSeconds').runQueueSeconds;
    return counter === undefined ? undefined : this.growthOf(counter);
  }

  private startedThreads(asked: string): NonNullable<CpuMeter['threads']> {
    if (this.threads === undefined) throw new Error(`CpuMeter: ${asked} asked of a meter made without { threads: true }`);
    // Without a start every thread would count from its birth, which would pass for a busy step.
    if (this.startedAt === 0) throw new Error(`CpuMeter: ${asked} asked before start()`);
    return this.threads;
  }

  private growthOf(counter: ThreadCounter): Record<string, number> {
    return Object.fromEntries(Object.entries(this.groups).map(([name, pids]) => [name, counter.since(pids)]));
  }

  /** Cores used per group since `start` (1.0 = one core busy all the time), plus `machine` and `other`. */
  stop(): Record<string, number> {
    return this.stopSpan().cores;
  }

  /** As `stop`, with the span the cores were averaged over. */
  stopSpan(): CpuSpan {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const cores = Object.fromEntries(
      Object.entries(this.groups).map(([name, pids]) => [name, (this.total(pids) - (this.started.get(name) ?? 0)) / seconds]),
    );
    const machine = (machineBusySeconds() - this.machineAtStart) / seconds;
    const ours = Object.values(cores).reduce((sum, value) => sum + value, 0);
    return { cores: { ...cores, machine, other: Math.max(0, machine - ours) }, seconds };
  }

  private total(pids: readonly number[]): number {
    return pids.reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? 0), 0);
  }
}
