import { performance } from 'node:perf_hooks';
import { closeAll, openMany, type LoadSocket } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { CpuMeter, roundCores } from './process-figures.js';
import { percentiles, round, type Percentiles } from './statistics.js';
import type { LoadTarget } from './targets.js';

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
  /** The span `cpuCores` was measured over: the whole batch's opening. */
  cpuSeconds: number;
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
    const meter = cpu === undefined ? undefined : new CpuMeter(cpu);
    meter?.start();
    const meteredFrom = performance.now();
    const opened = await openMany(
      count,
      concurrency,
      async (index): Promise<LoadSocket> => {
        const started = performance.now();
        const socket = await target.open(`open-c${concurrency}-${index}`, 0);
        times.push(performance.now() - started);
        return socket;
      },
      Math.ceil(count * 0.05),
    );
    const cpuCores = meter === undefined ? null : roundCores(meter.stop());
    const cpuSeconds = round((performance.now() - meteredFrom) / 1000, 2);
    await closeAll(opened.sockets);
    steps.push({
      target: target.name,
      concurrency,
      requested: count,
      opened: opened.sockets.length,
      failures: opened.failures.length,
      firstFailure: opened.failures[0] ?? null,
      opensPerSecond: round(opened.sockets.length / (opened.elapsedMs / 1000)),
      openMs: percentiles(times),
      cpuCores,
      cpuSeconds,
    });
  }
  return steps;
}
