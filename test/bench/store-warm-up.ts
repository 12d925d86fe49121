import { performance } from 'node:perf_hooks';
import { closeAll, openMany, type LoadSocket } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { pace } from './pacer.js';
import { jitCompilerCpuSeconds, growthBetween } from './process-figures.js';
import { RefRequests } from './ref-requests.js';
import { round } from './statistics.js';
import type { LoadTarget } from './targets.js';

export interface StoreWarmUpOptions {
  /** Sockets each round opens over the nodes: each syncs from nothing, sends, syncs from its cursor and closes. */
  sockets: number;
  messagesPerSecond: number;
  /** How long each round sends. */
  sendMs: number;
  /** Warm once a round's JIT compilers used fewer cores than this. */
  quietCores: number;
  /** Gives up after this long, warm or not (the report says which). */
  maxMs: number;
}

/** What warming the store up took. */
export interface StoreWarmUp {
  rounds: number;
  ms: number;
  /** Cores Cassandra's JIT compiler threads used in each round, first to last. */
  compilerCores: number[];
  /** Whether the last round's compilers were under `quietCores`. */
  settled: boolean;
  quietCores: number;
}

/** Sockets opened at once, and how long a round waits for all the replies it asked for. */
const OPENS_IN_FLIGHT = 50;
const REPLIES_WAIT_MS = 30_000;
const COMPILER_SAMPLE_MS = 1_000;

/**
 * Runs chat traffic through the nodes until Cassandra's JIT compilers go quiet. The bench
 * starts a Cassandra of its own, and a JVM compiles its hot paths in the first minutes of
 * traffic: in a storm run on a fresh Cassandra, its C2 compiler threads took 0.2 of the 0.73
 * cores Cassandra used (0.49 of 1.02 while the storm's sockets opened), CPU that a Cassandra
 * in service, warmed for days, does not spend and the peers (no JVM) never do. Each round
 * does what the scenarios ask of the store: sessions written and deleted, syncs from nothing
 * and from a cursor, direct messages appended. Runs before the first scenario that drives
 * chat nodes (direct, group, opens, storm; tls warms its own Cassandra), so one of those run
 * alone meets the store it would meet in a full run. No round starts after `maxMs`.
 */
export async function warmUpStore(target: LoadTarget, cassandraPid: number, options: StoreWarmUpOptions): Promise<StoreWarmUp> {
  const started = performance.now();
  const compilerCores: number[] = [];
  for (;;) {
    const roundNumber = compilerCores.length + 1;
    const compiling = new CompilerSampler(cassandraPid);
    const roundStarted = performance.now();
    // Fresh users each round, so every round asks the store the same: each round's compiling is comparable.
    const users = Array.from({ length: options.sockets }, (_, index) => `warm-r${roundNumber}-u${index}`);
    try {
      await storeRound(target, users, options);
    } finally {
      compiling.stop();
    }
    const cores = round(compiling.cpuSeconds() / ((performance.now() - roundStarted) / 1000), 2);
    compilerCores.push(cores);
    progress(`store warm-up: round ${roundNumber}, Cassandra's JIT compilers used ${cores} cores`);
    const settled = cores < options.quietCores;
    if (settled || performance.now() - started > options.maxMs) {
      return { rounds: roundNumber, ms: Math.round(performance.now() - started), compilerCores, settled, quietCores: options.quietCores };
    }
  }
}

/**
 * CPU seconds the JVM's compiler threads used from this sampler's making to `cpuSeconds()`, read every
 * COMPILER_SAMPLE_MS: a JVM starts and ends compiler threads as the queue grows and shrinks,
 * and a thread that ended takes its time with it, so reading only at a round's ends would
 * miss what such threads did in the round (now at most their last sample period is missed).
 */
class CompilerSampler {
  private last: Map<string, number>;
  private used = 0;
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.last = compilerThreadsOf(pid);
    this.timer = setInterval(() => {
      try {
        this.sample();
      } catch (error) {
        // Thrown from cpuSeconds(): a timer's throw would end the whole bench.
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      }
    }, COMPILER_SAMPLE_MS);
  }

  cpuSeconds(): number {
    if (this.failure !== undefined) throw this.failure;
    this.sample();
    return this.used;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = compilerThreadsOf(this.pid);
    this.used += growthBetween(this.last, now);
    this.last = now;
  }
}

/** The JVM's compiler threads now; throws when there are none to read, which would pass for a quiet compiler. */
function compilerThreadsOf(pid: number): Map<string, number> {
  const threads = jitCompilerCpuSeconds(pid);
  if (threads === undefined || threads.size === 0) throw new Error(`no JIT compiler threads of Cassandra (pid ${pid}) to read in /proc`);
  return threads;
}

/** One round: open, sync from nothing, send, sync from the cursor, close. */
async function storeRound(target: LoadTarget, users: readonly string[], options: StoreWarmUpOptions): Promise<void> {
  const opened = await openMany(users.length, OPENS_IN_FLIGHT, (index) => target.open(users[index] ?? '', index));
  const requests = new SyncRequests(opened.sockets);
  try {
    if (opened.failures.length > 0) throw new Error(`${opened.failures.length} sockets did not open: ${opened.failures[0] ?? ''}`);
    const cursors = await requests.syncAll(() => 0);
    await sendDirect(opened.sockets, users, options.messagesPerSecond, options.sendMs);
    await requests.syncAll((index) => cursors[index] ?? 0);
  } finally {
    requests.stop();
    await closeAll(opened.sockets);
  }
}

/** Direct messages from each socket to the next user, `perSecond` in all for `ms`. */
function sendDirect(sockets: readonly LoadSocket[], users: readonly string[], perSecond: number, ms: number): Promise<void> {
  return pace(perSecond, ms, (seq) => {
    sockets[seq % sockets.length]?.send({ type: 'send', to: { user: users[(seq + 1) % users.length] }, text: `warm-${seq}` });
  });
}

/** `sync` asked of every socket at once, each reply awaited at most REPLIES_WAIT_MS. */
class SyncRequests {
  private readonly requests = new RefRequests();

  constructor(private readonly sockets: readonly LoadSocket[]) {
    for (const socket of sockets) {
      socket.onFrame = (frame) => {
        this.requests.answer(frame);
      };
    }
  }

  /** Each socket's sync from `since(index)`: the cursor of its first page, in socket order. */
  syncAll(since: (index: number) => string | 0): Promise<(string | undefined)[]> {
    return Promise.all(
      this.sockets.map(async (socket, index) => {
        const reply = await this.requests.request(socket, { type: 'sync', since: since(index) }, REPLIES_WAIT_MS, 'sync');
        return typeof reply.cursor === 'string' ? reply.cursor : undefined;
      }),
    );
  }

  /** Gives up on the replies still awaited (the round is over). */
  stop(): void {
    this.requests.answerAll({ type: 'round over' });
  }
}
