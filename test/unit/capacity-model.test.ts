import { describe, expect, it } from 'vitest';
import { DEFAULT_ASSUMPTIONS, measuredFiguresOf, planFor, wallsOf, type MeasuredFigures } from '../bench/capacity-model.js';

const measured: MeasuredFigures = {
  nodes: 3,
  rateWithinAim: 3000,
  latencyAimMs: 100,
  serverCoresPer1000: 0.3,
  redisCommandsPerMessage: 4,
  redisCommandsPerSecondLimit: 40_000,
  cassandraRequestsPerMessage: 2,
  cassandraMessagesPerSecondLimit: 2400,
  bytesPerIdleSocket: 8 * 1024,
  opensPerSecond: 2000,
};

describe('the capacity model', () => {
  it('sizes the chat nodes by the largest of CPU, memory and the rate measured within the latency aim', () => {
    // 1M users at 1 message a minute: 16,667 msg/s.
    const plan = planFor(1_000_000, measured);
    expect(plan.messagesPerSecond).toBeCloseTo(16_666.7, 1);
    // CPU: 16.67 × 0.3 cores = 5 cores, at 60 % of 2 cores each: 5 nodes.
    expect(plan.chatNodes.byCpu).toBe(5);
    // Memory: 1M × 8 KiB = 7.6 GiB, at 70 % of 4 GiB each: 3 nodes.
    expect(plan.chatNodes.byMemory).toBe(3);
    // The bench's 3 nodes kept p99 within 100 ms up to 3000 msg/s: 1000 per node, so 17.
    expect(plan.chatNodes).toMatchObject({ byMeasuredRate: 17, needed: 17, limitedBy: 'measured rate' });
    // A lost node's 58,824 sockets reopen on the 16 others at 2000/s each.
    expect(plan.rehomeSeconds).toBeCloseTo(1_000_000 / 17 / (2000 * 16), 5);
  });

  it('counts Redis commands and Cassandra writes, with headroom and the replication factor', () => {
    const plan = planFor(100_000, measured);
    expect(plan.redis.commandsPerSecond).toBeCloseTo(6666.7, 1);
    expect(plan.redis.primaries).toBe(1);
    // 1667 msg/s × 2 requests, and 100,000 sockets' session rows each written once in 15 minutes: 111 a second.
    expect(plan.cassandra).toMatchObject({
      requestsPerSecond: expect.closeTo(3444.4, 1) as unknown,
      sessionRefreshesPerSecond: expect.closeTo(111.1, 1) as unknown,
      replicaWritesPerSecond: expect.closeTo(10_333.3, 1) as unknown,
    });
    // 3444 requests/s × 3 copies over 2400 requests/s a node (half of 2400 msg/s × 2 requests): 5 nodes (never fewer than the factor).
    expect(plan.cassandra.nodes).toBe(5);
    // Idle sockets cost Cassandra their refreshes alone: 10M users sending nothing, 11,111 requests/s × 3 copies: 14 nodes.
    expect(planFor(10_000_000, measured, { ...DEFAULT_ASSUMPTIONS, messagesPerUserPerMinute: 0 }).cassandra.nodes).toBe(14);
    expect(planFor(1000, measured).cassandra.nodes).toBe(DEFAULT_ASSUMPTIONS.cassandraReplicationFactor);
  });

  it('finds the wall met first: the part whose one unit carries the fewest messages', () => {
    const walls = wallsOf(measured);
    expect(walls.redisPrimary).toBe(5000);
    expect(walls.cassandraNode).toBe(400);
    expect(walls.chatNode).toBe(1000);
    expect(walls.first).toBe('cassandraNode');
  });

  it('reads its figures from a bench JSON, and says what is missing', () => {
    const step = (offered: number, p99: number, saturated: string | null) => ({
      offeredPerSecond: offered,
      deliveredPerSecond: saturated === null ? offered : offered / 2,
      undelivered: saturated === null ? 0 : 10,
      deliveryLatencyMs: { p99 },
      cpuCores: { server: offered / 1000 },
      redisCommandsPerMessage: 4.5,
      saturated,
    });
    const json = {
      startedAt: '2026-12-02T15:00:00Z',
      settings: { nodes: 3 },
      scenario1: { chat: { steps: [step(500, 20, null), step(1000, 80, null), step(2000, 150, null), step(4000, 900, 'delivered < 80% of offered')] } },
      scenario2: { chat: { bytesPerSocket: { rss: 9000 }, connectsPerSecond: 1500 } },
      limits: { cassandra: { steps: [{ path: 'statements', requestsPerMessage: 4 }, { path: 'store', requestsPerMessage: 2 }], peakMessagesPerSecond: { store: 2600 } }, redis: { xadd: [{ perSecond: 10_000 }, { perSecond: 38_000 }] } },
    };
    expect(measuredFiguresOf(json)).toMatchObject({ rateWithinAim: 1000, serverCoresPer1000: 1, redisCommandsPerMessage: 4.5, redisCommandsPerSecondLimit: 38_000, cassandraRequestsPerMessage: 2, bytesPerIdleSocket: 9000, opensPerSecond: 1500 });
    const withStorm = { ...json, opens: [{ target: 'chat', opensPerSecond: 2100 }, { target: 'relay', opensPerSecond: 9000 }], storm: { backAndSynced: 9000, survivors: 3, totalMs: 10_000 } };
    expect(measuredFiguresOf(withStorm)).toMatchObject({ opensPerSecond: 2100, rehomedPerSecondPerNode: 300 });
    expect(() => measuredFiguresOf({ ...json, limits: undefined })).toThrow(/limits/);
  });
});
