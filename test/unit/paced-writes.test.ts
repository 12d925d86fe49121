import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runPacedStep } from '../bench/limits/cassandra-writes.js';

const QUICK = { graceMs: 200, drainMs: 200 };

describe('a paced step of writes', () => {
  it('starts rate × duration writes without waiting for the earlier ones, and counts those stored and those failed', async () => {
    let started = 0;
    let running = 0;
    let mostAtOnce = 0;
    const step = await runPacedStep(
      1000,
      100,
      async (seq) => {
        started += 1;
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await sleep(20);
        running -= 1;
        if (seq % 10 === 0) throw new Error('write timed out');
      },
      {},
      QUICK,
    );
    expect(started).toBe(100);
    // 20 ms writes started every millisecond: many at once, none waited for.
    expect(mostAtOnce).toBeGreaterThan(5);
    expect(step).toMatchObject({ offeredPerSecond: 1000, completed: 90, heldBack: 0, unfinished: 0, errors: { 'write timed out': 10 } });
    expect(step.latencyMs.p50).toBeGreaterThanOrEqual(19);
    // No Cassandra among the measured processes: no cost per message to report.
    expect(step.cassandraCoresPer1000).toBeNull();
  });

  it('holds back what would pass 2 s of writes awaited (at least 200), and counts those still running after the grace as unfinished', async () => {
    const never = new Promise<void>(() => undefined);
    // 100 a second may have 200 awaited: of 210 writes, the last 10 are held back.
    const step = await runPacedStep(100, 2_100, () => never, {}, QUICK);
    expect(step).toMatchObject({ completed: 0, perSecond: 0, heldBack: 10, unfinished: 200 });
  });
});
