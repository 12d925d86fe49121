import { performance } from 'node:perf_hooks';
import { percentiles, round, type Percentiles } from '../statistics.js';

/** What `concurrency` workers doing one operation after another for a while achieved. */
export interface ClosedLoopResult {
  concurrency: number;
  seconds: number;
  completed: number;
  perSecond: number;
  latencyMs: Percentiles;
  /** Failed operations by error message (first 80 characters). */
  errors: Record<string, number>;
}

/**
 * Keeps `concurrency` calls of `operation` in flight for `durationMs` (each worker starts its
 * next call when its last one settles), then waits for the calls in flight. Bounded in time:
 * no new call starts after the deadline.
 */
export async function runClosedLoop(concurrency: number, durationMs: number, operation: (seq: number) => Promise<unknown>): Promise<ClosedLoopResult> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const seq = next++;
      const callStarted = performance.now();
      try {
        await operation(seq);
        latencies.push(performance.now() - callStarted);
      } catch (error) {
        countFailure(errors, error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - startedAt) / 1000;
  return { concurrency, seconds: round(seconds, 2), completed: latencies.length, perSecond: round(latencies.length / seconds), latencyMs: percentiles(latencies), errors };
}

/** Counts a failed operation under its error message (first 80 characters). */
export function countFailure(errors: Record<string, number>, error: unknown): void {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 80);
  errors[message] = (errors[message] ?? 0) + 1;
}
