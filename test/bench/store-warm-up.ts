import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeAll, openMany, type Frame, type LoadSocket } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { jitCompilerCpuSeconds, jitCompilingBetween } from './process-figures.js';
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

/** Sockets opened at once, and how long a round waits for the replies it asked for. */
const OPENS_IN_FLIGHT = 50;
const REPLIES_WAIT_MS = 30_000;

/**
 * Runs chat traffic through the nodes until Cassandra's JIT compilers go quiet. The bench
 * starts a Cassandra of its own, and a JVM compiles its hot paths in the first minutes of
 * traffic: in a storm run on a fresh Cassandra, its C2 compiler threads took 0.2 of the 0.73
 * cores Cassandra used (0.49 of 1.02 while the storm's sockets opened), CPU that a Cassandra
 * in service, warmed for days, does not spend and the peers (no JVM) never do. Each round
 * does what the scenarios ask of the store: sessions written and deleted, syncs from nothing
 * and from a cursor, direct messages appended. Runs before any scenario, whichever are chosen,
 * so a scenario run alone measures the store it would meet in a full run.
 */
export async function warmUpStore(target: LoadTarget, cassandraPid: number, options: StoreWarmUpOptions): Promise<StoreWarmUp> {
  const started = performance.now();
  const compilerCores: number[] = [];
  const users = Array.from({ length: options.sockets }, (_, index) => `warm-u${index}`);
  for (;;) {
    const rounds = compilerCores.length + 1;
    const before = jitCompilerCpuSeconds(cassandraPid);
    const roundStarted = performance.now();
    await storeRound(target, users, options);
    const after = jitCompilerCpuSeconds(cassandraPid);
    if (before === undefined || after === undefined) throw new Error(`cannot read the JIT compiler threads of Cassandra (pid ${cassandraPid}) in /proc`);
    const cores = jitCompilingBetween(before, after) / ((performance.now() - roundStarted) / 1000);
    compilerCores.push(round2(cores));
    progress(`store warm-up: round ${rounds}, Cassandra's JIT compilers used ${round2(cores)} cores`);
    const settled = cores < options.quietCores;
    if (settled || performance.now() - started > options.maxMs) {
      return { rounds, ms: Math.round(performance.now() - started), compilerCores, settled, quietCores: options.quietCores };
    }
  }
}

function round2(value: number): number {
  return round(value, 2);
}

/** One round: open, sync from nothing, send, sync from the cursor, close. */
async function storeRound(target: LoadTarget, users: readonly string[], options: StoreWarmUpOptions): Promise<void> {
  const opened = await openMany(users.length, OPENS_IN_FLIGHT, (index) => target.open(users[index] ?? '', index));
  const replies = new Replies(opened.sockets);
  try {
    if (opened.failures.length > 0) throw new Error(`store warm-up: ${opened.failures.length} sockets did not open: ${opened.failures[0] ?? ''}`);
    const cursors = await replies.askAll('sync', () => ({ type: 'sync', since: 0 }));
    const deadline = performance.now() + options.sendMs;
    const perTick = Math.max(1, Math.round(options.messagesPerSecond / 100));
    let sent = 0;
    while (performance.now() < deadline) {
      for (let i = 0; i < perTick; i++, sent++) {
        const sender = opened.sockets[sent % opened.sockets.length];
        sender?.send({ type: 'send', to: { user: users[(sent + 1) % users.length] }, text: `warm-${sent}` });
      }
      await sleep(10);
    }
    await replies.askAll('sync', (index) => ({ type: 'sync', since: cursors[index] ?? 0 }));
  } finally {
    await closeAll(opened.sockets);
  }
}

/** Asks every socket the same kind of request and waits for all the replies. */
class Replies {
  private readonly waiting = new Map<string, (frame: Frame) => void>();

  constructor(private readonly sockets: readonly LoadSocket[]) {
    for (const socket of sockets) {
      socket.onFrame = (frame) => {
        if (typeof frame.ref !== 'string') return;
        this.waiting.get(frame.ref)?.(frame);
        this.waiting.delete(frame.ref);
      };
    }
  }

  /** Each socket's reply's `cursor` (a sync's), in socket order; throws on an error reply or a timeout. */
  async askAll(type: string, request: (index: number) => Record<string, unknown>): Promise<(string | undefined)[]> {
    const answers = this.sockets.map(
      (socket, index) =>
        new Promise<string | undefined>((resolve, reject) => {
          const ref = `warm-${type}-${index}-${performance.now()}`;
          const timer = setTimeout(() => {
            this.waiting.delete(ref);
            reject(new Error(`store warm-up: no ${type} reply within ${REPLIES_WAIT_MS} ms`));
          }, REPLIES_WAIT_MS);
          this.waiting.set(ref, (frame) => {
            clearTimeout(timer);
            if (frame.type === type) resolve(typeof frame.cursor === 'string' ? frame.cursor : undefined);
            else reject(new Error(`store warm-up: ${type} answered ${JSON.stringify(frame).slice(0, 200)}`));
          });
          socket.send({ ...request(index), ref });
        }),
    );
    return Promise.all(answers);
  }
}
