import { performance } from 'node:perf_hooks';

/** How often the pacer wakes; calls due since the last wake go out together. */
const PACER_TICK_MS = 2;

/**
 * Calls `fire(0)`, `fire(1)`, … at `rate` calls a second for `durationMs` (open loop: a call
 * never waits for an earlier one), `rate × durationMs / 1000` calls in all (rounded down);
 * resolves once the last is made. Calls due while the process was busy go out together at
 * its next wake, so a slow target gets its load late, never less of it.
 */
export function pace(rate: number, durationMs: number, fire: (seq: number) => void): Promise<void> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let next = 0;
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - startedAt, durationMs);
      const due = Math.floor((rate * elapsed) / 1000);
      while (next < due) fire(next++);
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, PACER_TICK_MS);
  });
}
