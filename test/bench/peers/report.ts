import type { DirectLoadResult, DirectStep } from '../direct-load.js';
import { coresPer1000, table } from '../report.js';
import { round } from '../statistics.js';

/** One target's figures at one offered rate, with its ratios to the chat cluster's at the same rate. */
export interface PeerFigures {
  delivered: number;
  p50: number | null;
  p99: number | null;
  /** Server-side cores busy during the step (the target's servers + Redis + Cassandra where it uses them). */
  serverCores: number;
  /** The rest of the machine meanwhile (e.g. a concurrent test run): the figures of a busy machine say less. */
  otherCores: number | null;
  coresPer1000: number | null;
  saturated: string | null;
  /** Ratios to chat; null where either side is missing (or for chat itself). */
  vsChat: { delivered: number | null; p50: number | null; p99: number | null; coresPer1000: number | null };
}

/** Every target side by side: per offered rate, and each target's peak. */
export interface PeerComparison {
  targets: string[];
  byRate: { offeredPerSecond: number; targets: Record<string, PeerFigures> }[];
  peakDelivered: Record<string, { delivered: number; vsChat: number | null }>;
}

/**
 * `peer / chat` to 3 significant digits (a peer can be thousands of times faster: 2 decimals
 * would print 0), or null when either is missing or chat's is zero.
 */
function ratio(peer: number | null | undefined, chat: number | null | undefined): number | null {
  if (peer === null || peer === undefined || chat === null || chat === undefined || chat === 0) return null;
  return Number((peer / chat).toPrecision(3));
}

function serverCores(step: DirectStep): number {
  return round((step.cpuCores.server ?? 0) + (step.cpuCores.redis ?? 0) + (step.cpuCores.cassandra ?? 0), 2);
}

/** Lines the results of the same generator up by offered rate; `chat` (when run) is what the ratios are to. */
export function comparePeers(results: readonly DirectLoadResult[], chatTarget = 'chat'): PeerComparison {
  const chat = results.find((result) => result.target === chatTarget);
  const rates = [...new Set(results.flatMap((result) => result.steps.map((step) => step.offeredPerSecond)))].sort((a, b) => a - b);
  const byRate = rates.map((offeredPerSecond) => {
    const chatStep = chat?.steps.find((step) => step.offeredPerSecond === offeredPerSecond);
    const targets: Record<string, PeerFigures> = {};
    for (const result of results) {
      const step = result.steps.find((candidate) => candidate.offeredPerSecond === offeredPerSecond);
      if (step === undefined) continue;
      const others = result === chat || chatStep === undefined ? undefined : chatStep;
      targets[result.target] = {
        delivered: step.deliveredPerSecond,
        p50: step.deliveryLatencyMs.p50,
        p99: step.deliveryLatencyMs.p99,
        serverCores: serverCores(step),
        otherCores: step.cpuCores.other ?? null,
        coresPer1000: coresPer1000(step),
        saturated: step.saturated,
        vsChat: {
          delivered: others === undefined ? null : ratio(step.deliveredPerSecond, others.deliveredPerSecond),
          p50: others === undefined ? null : ratio(step.deliveryLatencyMs.p50, others.deliveryLatencyMs.p50),
          p99: others === undefined ? null : ratio(step.deliveryLatencyMs.p99, others.deliveryLatencyMs.p99),
          coresPer1000: others === undefined ? null : ratio(coresPer1000(step), coresPer1000(others)),
        },
      };
    }
    return { offeredPerSecond, targets };
  });
  const peakDelivered = Object.fromEntries(
    results.map((result) => [
      result.target,
      { delivered: result.peakDeliveredPerSecond, vsChat: chat === undefined || result === chat ? null : ratio(result.peakDeliveredPerSecond, chat.peakDeliveredPerSecond) },
    ]),
  );
  return { targets: results.map((result) => result.target), byRate, peakDelivered };
}

function times(value: number | null): string {
  return value === null ? '-' : `${value}x`;
}

/** A table per offered rate: delivered msg/s, p50, p99, cost, and each ratio to chat. */
export function formatPeers(comparison: PeerComparison, pairs: number, stepSeconds: number): string {
  const sections = comparison.byRate.map(({ offeredPerSecond, targets }) => {
    const rows = comparison.targets.flatMap((name) => {
      const figures = targets[name];
      if (figures === undefined) return [[name, null, null, null, null, null, null, null, null, null, null, 'not run at this rate (an earlier step saturated)']];
      return [
        [
          name,
          figures.delivered,
          figures.p50,
          figures.p99,
          figures.serverCores,
          figures.coresPer1000,
          figures.otherCores,
          times(figures.vsChat.delivered),
          times(figures.vsChat.p50),
          times(figures.vsChat.p99),
          times(figures.vsChat.coresPer1000),
          figures.saturated === null ? '' : `saturated: ${figures.saturated}`,
        ],
      ];
    });
    return [
      `At ${offeredPerSecond} msg/s offered`,
      table(['target', 'delivered/s', 'p50 ms', 'p99 ms', 'server cores', 'cores/1000 msg/s', 'cpu other', 'delivered ÷ chat', 'p50 ÷ chat', 'p99 ÷ chat', 'cores/msg ÷ chat', 'note'], rows),
    ].join('\n');
  });
  const peaks = comparison.targets
    .map((name) => {
      const peak = comparison.peakDelivered[name];
      return peak === undefined ? name : `${name} ${peak.delivered}${peak.vsChat === null ? '' : ` (${times(peak.vsChat)})`}`;
    })
    .join(', ');
  return [
    `Peers: the same cross-node direct load (${pairs} pairs, sender and recipient on different servers of 3, ${stepSeconds} s steps) against each target, in the same run`,
    ...sections,
    [
      `peak delivered msg/s: ${peaks}`,
      'server cores = the target\'s server processes + Redis (+ Cassandra for chat), cores busy on average during the step; cores/1000 msg/s',
      '= server cores per 1000 delivered msg/s; cpu other = the rest of the machine meanwhile; "÷ chat" = the target\'s figure over chat\'s',
      'at the same offered rate (for p99 and cores, above 1 means the peer is slower or costlier). Chat stores every message in Cassandra',
      'and authenticates each socket; relay: one process, nothing stored, no bus; Socket.IO: rooms over the Redis Streams adapter,',
      'nothing stored, no auth; Centrifugo: JWT auth, client publish into the recipient\'s user-limited channel over the Redis engine;',
      '+history also keeps each channel\'s last 100 publications in Redis for recovery.',
    ].join('\n'),
  ].join('\n\n');
}
