import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { measureSocketWrites } from '../bench/limits/socket-writes.js';

/** Whether a process running the sink is still alive (pgrep exits 1 when none matches). */
function sinkRunning(): boolean {
  try {
    execFileSync('pgrep', ['-f', 'test/bench/limits/socket-sink.ts']);
    return true;
  } catch {
    return false;
  }
}

describe('the loopback socket-write limit', () => {
  it('writes at each paced rate, then at full speed, metering both processes, and stops its reader', async () => {
    const limits = await measureSocketWrites({ sockets: 4, bytes: 100, rates: [500], stepMs: 400 }, [process.pid]);
    expect(limits).toMatchObject({ sockets: 4, bytes: 100 });
    const [paced, full] = limits.steps;
    // 500 a second for 0.4 s.
    expect(paced).toMatchObject({ offeredPerSecond: 500, writes: 200 });
    expect(full?.offeredPerSecond).toBeNull();
    expect(full?.writes).toBeGreaterThan(paced?.writes ?? 0);
    // The writer was busy all of the full-speed step, so its CPU per write is measurable (whole 10 ms ticks over 0.4 s).
    expect(full?.usPerWrite?.writer).toBeGreaterThan(0);
    expect(Object.keys(full?.cpuCores ?? {}).sort()).toEqual(['machine', 'other', 'reader', 'writer']);
    expect(limits.steps).toHaveLength(2);
    expect(sinkRunning()).toBe(false);
  }, 30_000);
});
