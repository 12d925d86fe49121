import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pace } from '../bench/pacer.js';

describe('pace', () => {
  it('makes rate × duration calls, numbered in order, and resolves once the window is over', async () => {
    const seqs: number[] = [];
    const startedAt = performance.now();
    await pace(1000, 150, (seq) => seqs.push(seq));
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(150);
    expect(seqs).toEqual(Array.from({ length: 150 }, (_, index) => index));
  });

  it('makes the calls that fell due while the process was busy at its next wake, none lost', async () => {
    const calledAt: number[] = [];
    const startedAt = performance.now();
    const paced = pace(200, 100, () => calledAt.push(performance.now() - startedAt));
    // The event loop is held for 60 ms: 12 calls fall due meanwhile.
    while (performance.now() - startedAt < 60);
    await paced;
    expect(calledAt).toHaveLength(20);
    // The 12 that fell due while the loop was held went out together, at the first wake after it.
    const [first = 0, , , , , , , , , , , twelfth = 0] = calledAt;
    expect(first).toBeGreaterThanOrEqual(60);
    expect(twelfth - first).toBeLessThan(1);
  });

  it('makes no more calls once one throws, and rejects with its error', async () => {
    let calls = 0;
    const paced = pace(1000, 100, (seq) => {
      calls += 1;
      if (seq === 5) throw new Error('the socket is gone');
    });
    await expect(paced).rejects.toThrow('the socket is gone');
    await sleep(20);
    expect(calls).toBe(6);
  });
});
