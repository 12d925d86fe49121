import { describe, expect, it } from 'vitest';
import { CpuMeter, cpuUtilizationPercent, type CpuSample } from './cpu-meter.js';

describe('cpuUtilizationPercent', () => {
  it('is CPU time over wall time, as a percentage of the request', () => {
    // 50 ms of CPU in 1 s = 50 millicores = 50 % of a 100m request.
    expect(cpuUtilizationPercent({ atMs: 0, cpuMicros: 0 }, { atMs: 1_000, cpuMicros: 50_000 }, 100)).toBe(50);
    // Two busy cores against a request of one: 200 %, as the HPA reads it.
    expect(cpuUtilizationPercent({ atMs: 0, cpuMicros: 0 }, { atMs: 1_000, cpuMicros: 2_000_000 }, 1_000)).toBe(200);
  });

  it('is unknown without elapsed time or without a request', () => {
    expect(cpuUtilizationPercent({ atMs: 5, cpuMicros: 0 }, { atMs: 5, cpuMicros: 10 }, 100)).toBeUndefined();
    expect(cpuUtilizationPercent({ atMs: 0, cpuMicros: 0 }, { atMs: 1_000, cpuMicros: 10 }, 0)).toBeUndefined();
  });
});

describe('CpuMeter', () => {
  it('averages over its window and forgets what is older', () => {
    let now: CpuSample = { atMs: 0, cpuMicros: 0 };
    const meter = new CpuMeter({ requestMillicores: 100, windowMs: 10_000, read: () => now });
    // 10 s busy at 100 millicores, then 10 s idle, sampled every 5 s.
    for (let second = 5; second <= 10; second += 5) {
      now = { atMs: second * 1_000, cpuMicros: second * 100_000 };
      meter.sample();
    }
    expect(meter.utilization()).toBe(100);
    for (let second = 15; second <= 20; second += 5) {
      now = { atMs: second * 1_000, cpuMicros: 1_000_000 };
      meter.sample();
    }
    expect(meter.utilization()).toBe(0);
  });

  it('reads this process: 100 ms of CPU burnt shows as CPU used', () => {
    const started = performance.now();
    const { user, system } = process.cpuUsage();
    const meter = new CpuMeter({ requestMillicores: 1_000 });
    // Burn CPU time, not wall time: on a loaded machine the loop may get only part of a core.
    while (process.cpuUsage().user + process.cpuUsage().system - user - system < 100_000) Math.sqrt(Math.random());
    const utilization = meter.utilization();
    const wallMs = performance.now() - started;
    // About 100 ms of CPU (less what the meter's own construction took) over at most the elapsed wall time, against a one-core request.
    expect(utilization).toBeGreaterThanOrEqual(Math.floor((95 / wallMs) * 100));
  });
});
