import { setTimeout as sleep } from 'node:timers/promises';
import { closeAll, openMany } from './bench-socket.js';
import { progress } from './lifecycle.js';
import type { MemorySample } from './process-figures.js';
import { round } from './statistics.js';
import type { LoadTarget } from './targets.js';

/** A server process measured for memory. */
export interface MeasuredServer {
  target: LoadTarget;
  /** Its memory once settled (a forced full GC first), after waiting `quietMs`. */
  memory: (quietMs?: number) => Promise<MemorySample>;
  /** How `memory` is taken, and what differs from chat's sockets, when not as scenario 2's heading says. */
  memoryNote?: string;
  /** The server's own count of open sockets, when it reports one; waited for before measuring. */
  connections?: () => Promise<number>;
}

export interface IdleSocketsResult {
  target: string;
  requested: number;
  opened: number;
  failures: number;
  firstFailure: string | null;
  /** Opening rate with `concurrency` connects in flight (auth and registration included). */
  connectsPerSecond: number;
  concurrency: number;
  baseline: MemorySample;
  loaded: MemorySample;
  afterClose: MemorySample;
  /** (loaded - baseline) / opened. */
  bytesPerSocket: { rss: number; heapUsed: number; external: number };
  /** MeasuredServer.memoryNote, or null. */
  memoryNote: string | null;
  /** (afterClose - baseline) / opened: what closed sockets left behind. */
  residualBytesPerSocket: { rss: number; heapUsed: number };
}

/**
 * Scenario 2: open `count` idle authenticated sockets on one process and read its memory
 * before, with them open, and after they closed, each time after a forced settle.
 */
export async function measureIdleSockets(server: MeasuredServer, count: number, concurrency: number): Promise<IdleSocketsResult> {
  const name = server.target.name;
  const baseline = await server.memory();
  progress(`${name}: opening ${count} idle sockets (${concurrency} at a time)`);
  const opened = await openMany(count, concurrency, (index) => server.target.open(`idle-${index}`, 0), Math.ceil(count * 0.05));
  const { sockets } = opened;
  let loaded: MemorySample;
  try {
    await waitForConnections(server, sockets.length);
    loaded = await server.memory(3_000);
  } finally {
    progress(`${name}: closing ${sockets.length} idle sockets`);
    await closeAll(sockets);
  }
  await waitForConnections(server, 0);
  const afterClose = await server.memory(3_000);
  const per = (delta: number): number => (sockets.length === 0 ? 0 : Math.round(delta / sockets.length));
  return {
    target: name,
    requested: count,
    opened: sockets.length,
    failures: opened.failures.length,
    firstFailure: opened.failures[0] ?? null,
    connectsPerSecond: round(sockets.length / (opened.elapsedMs / 1000)),
    concurrency,
    baseline,
    loaded,
    afterClose,
    memoryNote: server.memoryNote ?? null,
    bytesPerSocket: {
      rss: per(loaded.rssBytes - baseline.rssBytes),
      heapUsed: per(loaded.heapUsedBytes - baseline.heapUsedBytes),
      external: per(loaded.externalBytes - baseline.externalBytes),
    },
    residualBytesPerSocket: {
      rss: per(afterClose.rssBytes - baseline.rssBytes),
      heapUsed: per(afterClose.heapUsedBytes - baseline.heapUsedBytes),
    },
  };
}

/** Waits (at most 20 s) until the server reports `expected` open sockets, when it reports any. */
async function waitForConnections(server: MeasuredServer, expected: number): Promise<void> {
  if (server.connections === undefined) return;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = await server.connections();
    if (now === expected) return;
    if (Date.now() > deadline) {
      progress(`${server.target.name}: reports ${now} sockets, expected ${expected}; measuring anyway`);
      return;
    }
    await sleep(100);
  }
}
