import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often the pacer wakes; calls due since the last wake go out together. */
const PACER_TICK_MS = 2;

/** How many calls `rate` a second make in `durationMs`: what `pace` makes in all. */
export function callsIn(rate: number, durationMs: number): number {
  return Math.floor((rate * durationMs) / 1000);
}

/**
 * How many paced calls may await their answer before new ones are held back: 2 s of them (at
 * least 200). Past that the target is not keeping up, and piling more on would measure the
 * pile, not the target.
 */
export function backlogLimit(rate: number): number {
  return Math.max(200, rate * 2);
}

/**
 * Calls `fire(0)`, `fire(1)`, … at `rate` calls a second for `durationMs` (open loop: a call
 * never waits for an earlier one), `callsIn(rate, durationMs)` calls in all; resolves once
 * the last is made, and rejects (making no more) if `fire` throws. Calls due while the
 * process was busy go out together at its next wake, so a slow target gets its load late,
 * never less of it.
 */
export function pace(rate: number, durationMs: number, fire: (seq: number) => void): Promise<void> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    let next = 0;
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - startedAt, durationMs);
      const due = callsIn(rate, elapsed);
      try {
        while (next < due) fire(next++);
      } catch (error) {
        clearInterval(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, PACER_TICK_MS);
  });
}

/** Resolves once `busy()` is false (checked every 20 ms), or after `withinMs`: the wait for a paced load's last answers. */
export async function waitWhile(busy: () => boolean, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (busy() && performance.now() < deadline) await sleep(20);
}
