import { describe, expect, it } from 'vitest';
import { WorkQueue } from './workqueue.js';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the work queue', () => {
  it('handles a key added many times while waiting once', async () => {
    const handled: string[] = [];
    const queue = new WorkQueue(async (key) => { handled.push(key); await tick(); }, { concurrency: 1 });
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/b');
    queue.add('ns/b');
    await queue.idle();
    expect(handled).toEqual(['ns/a', 'ns/b']);
  });

  it('never handles one key twice at once, and handles it again when it changed meanwhile', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const queue = new WorkQueue(async () => {
      concurrent += 1;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      runs += 1;
      await tick(20);
      concurrent -= 1;
    }, { concurrency: 4 });
    queue.add('ns/a');
    await tick(5);
    queue.add('ns/a');
    queue.add('ns/a');
    await queue.idle();
    await tick(30);
    await queue.idle();
    expect(maxConcurrent).toBe(1);
    expect(runs).toBe(2);
  });

  it('keeps at most `concurrency` keys in hand', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    const queue = new WorkQueue(async () => {
      concurrent += 1;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await tick(10);
      concurrent -= 1;
    }, { concurrency: 2 });
    for (let i = 0; i < 10; i++) queue.add(`ns/${i}`);
    await queue.idle();
    expect(maxConcurrent).toBe(2);
  });

  it('retries a failing key after a growing back-off', async () => {
    const attempts: number[] = [];
    const started = Date.now();
    const queue = new WorkQueue(() => {
      attempts.push(Date.now() - started);
      return attempts.length < 4 ? Promise.reject(new Error('conflict')) : Promise.resolve();
    }, { concurrency: 1, baseDelayMs: 20, maxDelayMs: 1000, random: () => 0.5 });
    queue.add('ns/a');
    for (let waited = 0; attempts.length < 4 && waited < 5000; waited += 10) await tick(10);
    expect(attempts).toHaveLength(4);
    // Timers fire late on a busy machine, never early: each gap is at least its back-off,
    // 20, 40 and 80 ms (a millisecond's rounding aside), so the third proves the growth.
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] ?? 0));
    expect(gaps.map((gap, i) => gap >= WorkQueue.backoffMs(i + 1, 20, 1000, () => 0.5) - 1)).toEqual([true, true, true]);
  });

  it('computes back-off as base·2ⁿ capped, with jitter of at most ±20 %', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4].map((n) => WorkQueue.backoffMs(n, 100, 10_000, middle))).toEqual([100, 200, 400, 800]);
    expect(WorkQueue.backoffMs(20, 100, 10_000, middle)).toBe(10_000);
    expect(WorkQueue.backoffMs(1, 100, 10_000, () => 0)).toBe(80);
    expect(WorkQueue.backoffMs(1, 100, 10_000, () => 1)).toBe(120);
  });
});
