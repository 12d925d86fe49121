import { performance } from 'node:perf_hooks';
import { closeAll, openMany, type LoadSocket } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { coresOnceQuiet, cpuMsEach, meteredCpu, roundCores } from './process-figures.js';
import { percentiles, round, roundEach, type Percentiles } from './statistics.js';
import type { LoadTarget } from './targets.js';

/** How long each group's CPU at rest is measured before a batch, once quiet. */
const AT_REST_MS = 2_000;

export interface OpenRateStep {
  target: string;
  /** Connects in flight at once. */
  concurrency: number;
  requested: number;
  opened: number;
  failures: number;
  firstFailure: string | null;
  /** Sockets authenticated with their `hello` received, per second of the whole batch. */
  opensPerSecond: number;
  /** Per socket, connect → `hello`. */
  openMs: Percentiles;
  /**
   * Cores each group of processes used while the batch opened (not while it closed), with
   * `machine` and `other` as CpuMeter reports them; null when no groups were given.
   */
  cpuCores: Record<string, number> | null;
  /** What each group used at rest just before, once the previous batch's closing had settled. */
  cpuCoresAtRest: Record<string, number> | null;
  /** The span `cpuCores` was measured over: the whole batch's opening. */
  cpuSeconds: number;
  /** CPU ms per socket opened by group (and `machine`), over what each used at rest; null when not measured. */
  cpuMsPerOpen: Record<string, number> | null;
}

/**
 * Socket opening rate on one process: `count` sockets (authenticated, `hello` received) at
 * each concurrency, closed again before the next step. With `cpu` (process ids by group),
 * also the cores each group used while they opened, from which the report derives what an
 * open costs the server side.
 */
export async function measureOpenRate(
  target: LoadTarget,
  count: number,
  concurrencies: readonly number[],
  cpu?: Record<string, readonly number[]>,
): Promise<OpenRateStep[]> {
  const steps: OpenRateStep[] = [];
  for (const concurrency of concurrencies) {
    progress(`opens: ${target.name}: ${count} sockets, ${concurrency} at a time`);
    const times: number[] = [];
    // Sockets a previous step closed are still being taken out of the cluster a while after.
    const atRest = cpu === undefined ? null : await coresOnceQuiet(cpu, AT_REST_MS);
    const { result: opened, ...span } = await meteredCpu(cpu ?? {}, () =>
      openMany(
        count,
        concurrency,
        async (index): Promise<LoadSocket> => {
          const started = performance.now();
          const socket = await target.open(`open-c${concurrency}-${index}`, 0);
          times.push(performance.now() - started);
          return socket;
        },
        Math.ceil(count * 0.05),
      ),
    );
    await closeAll(opened.sockets);
    const msPerOpen = atRest === null ? null : cpuMsEach(span, opened.sockets.length, atRest);
    steps.push({
      target: target.name,
      concurrency,
      requested: count,
      opened: opened.sockets.length,
      failures: opened.failures.length,
      firstFailure: opened.failures[0] ?? null,
      opensPerSecond: round(opened.sockets.length / (opened.elapsedMs / 1000)),
      openMs: percentiles(times),
      cpuCores: atRest === null ? null : roundCores(span.cores),
      cpuCoresAtRest: atRest,
      cpuSeconds: round(span.seconds, 2),
      cpuMsPerOpen: msPerOpen === null ? null : roundEach(msPerOpen, 3),
    });
  }
  return steps;
}
