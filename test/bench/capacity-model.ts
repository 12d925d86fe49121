/**
 * The capacity model of docs/capacity.md: from the figures one `npm run bench` measured on
 * one machine, how many chat nodes, Redis commands and Cassandra writes a population of
 * connected users needs, and which part meets its wall first. Pure: figures and
 * assumptions in, a plan out; capacity.ts reads the JSON and prints it.
 */
import { z } from 'zod';
import { refreshesPerSecond } from '../../node/chat/session-refresh.js';

/** What the bench measured, as the model uses it. */
export interface MeasuredFigures {
  /** Chat nodes of scenario 1. */
  nodes: number;
  /** The highest offered rate (cluster-wide, msg/s) delivered in full with a delivery p99 of at most `latencyAimMs`; 0 when none was. */
  rateWithinAim: number;
  latencyAimMs: number;
  /** The chat nodes' CPU (cores, all nodes together) per 1000 msg/s, at the highest rate delivered in full. */
  serverCoresPer1000: number;
  /** Redis commands per direct message at that rate (every node's, the bench's own aside). */
  redisCommandsPerMessage: number;
  /** One Redis process's measured command rate (raw XADDs, pipelined): what one primary does on one core. */
  redisCommandsPerSecondLimit: number;
  /** Cassandra requests per stored direct message (the store's own path). */
  cassandraRequestsPerMessage: number;
  /** The messages/s one Cassandra node (one JVM, replication factor 1) stored through the store's path at best. */
  cassandraMessagesPerSecondLimit: number;
  /** A chat node's resident memory per idle authenticated socket (bytes). */
  bytesPerIdleSocket: number;
  /** Sockets one node opens per second (authenticated, registered). */
  opensPerSecond: number;
  /**
   * Sockets one surviving node took back per second when a drained node's sockets all came
   * at once (the storm scenario: reconnect and sync), when it ran; what re-homing is sized by.
   */
  rehomedPerSecondPerNode?: number | undefined;
}

/** What the model assumes beyond the measurements; docs/capacity.md states each. */
export interface Assumptions {
  /** Messages each connected user sends per minute at the busiest hour. */
  messagesPerUserPerMinute: number;
  /** A chat pod's CPU and memory, and how much of each it may use before another is added. */
  nodeCores: number;
  nodeMemoryBytes: number;
  cpuHeadroom: number;
  memoryHeadroom: number;
  /** Copies Cassandra keeps of each row. */
  cassandraReplicationFactor: number;
  /** How much of a measured limit a production Redis or Cassandra is planned to use. */
  storeHeadroom: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  messagesPerUserPerMinute: 1,
  nodeCores: 2,
  nodeMemoryBytes: 4 * 1024 ** 3,
  cpuHeadroom: 0.6,
  memoryHeadroom: 0.7,
  cassandraReplicationFactor: 3,
  storeHeadroom: 0.5,
};

/** The plan for one population. */
export interface CapacityPlan {
  users: number;
  messagesPerSecond: number;
  chatNodes: { byCpu: number; byMemory: number; byMeasuredRate: number; needed: number; limitedBy: 'cpu' | 'memory' | 'measured rate' };
  redis: { commandsPerSecond: number; primaries: number };
  /**
   * Requests per second: the messages' and the session rows' refreshes (one batch per socket
   * each quarter of SESSION_TTL_SECONDS); each request's rows are written on every replica.
   */
  cassandra: { requestsPerSecond: number; sessionRefreshesPerSecond: number; replicaWritesPerSecond: number; nodes: number };
  /** Seconds until a lost node's sockets are open again on the others (they open in parallel). */
  rehomeSeconds: number;
}

/** The cluster-wide message rate at which each part meets its wall with one unit of it; the lowest is met first. */
export interface Walls {
  /** One Redis primary (Sentinel and standalone modes do not spread the bus over several). */
  redisPrimary: number;
  /** One Cassandra node at the replication factor (the cluster grows by nodes). */
  cassandraNode: number;
  /** One chat node (the cluster grows by nodes). */
  chatNode: number;
  first: 'redisPrimary' | 'cassandraNode' | 'chatNode';
}

const ceilAtLeastOne = (value: number): number => Math.max(1, Math.ceil(value));

/** How many of each part `users` connected users need, and how fast a lost node's sockets come back. */
export function planFor(users: number, measured: MeasuredFigures, assumptions: Assumptions = DEFAULT_ASSUMPTIONS): CapacityPlan {
  const messagesPerSecond = (users * assumptions.messagesPerUserPerMinute) / 60;
  const byCpu = ceilAtLeastOne(((messagesPerSecond / 1000) * measured.serverCoresPer1000) / (assumptions.nodeCores * assumptions.cpuHeadroom));
  const byMemory = ceilAtLeastOne((users * measured.bytesPerIdleSocket) / (assumptions.nodeMemoryBytes * assumptions.memoryHeadroom));
  const perNodeWithinAim = measured.rateWithinAim / measured.nodes;
  const byMeasuredRate = perNodeWithinAim > 0 ? ceilAtLeastOne(messagesPerSecond / perNodeWithinAim) : Number.POSITIVE_INFINITY;
  const needed = Math.max(byCpu, byMemory, byMeasuredRate);
  const limitedBy = needed === byMeasuredRate ? 'measured rate' : needed === byCpu ? 'cpu' : 'memory';
  const redisCommands = messagesPerSecond * measured.redisCommandsPerMessage;
  const sessionRefreshes = refreshesPerSecond(users);
  const cassandraRequests = messagesPerSecond * measured.cassandraRequestsPerMessage + sessionRefreshes;
  // The limit was measured in messages through the store's path; its requests are what a node takes.
  const cassandraRequestsPerNode = measured.cassandraMessagesPerSecondLimit * measured.cassandraRequestsPerMessage * assumptions.storeHeadroom;
  const socketsPerNode = users / needed;
  return {
    users,
    messagesPerSecond,
    chatNodes: { byCpu, byMemory, byMeasuredRate, needed, limitedBy },
    redis: { commandsPerSecond: redisCommands, primaries: ceilAtLeastOne(redisCommands / (measured.redisCommandsPerSecondLimit * assumptions.storeHeadroom)) },
    cassandra: {
      requestsPerSecond: cassandraRequests,
      sessionRefreshesPerSecond: sessionRefreshes,
      replicaWritesPerSecond: cassandraRequests * assumptions.cassandraReplicationFactor,
      nodes: Math.max(assumptions.cassandraReplicationFactor, Math.ceil((cassandraRequests * assumptions.cassandraReplicationFactor) / cassandraRequestsPerNode)),
    },
    rehomeSeconds: needed > 1 ? socketsPerNode / ((measured.rehomedPerSecondPerNode ?? measured.opensPerSecond) * (needed - 1)) : Number.POSITIVE_INFINITY,
  };
}

/** The message rate each part carries with one unit of it, planned at the assumptions' headroom. */
export function wallsOf(measured: MeasuredFigures, assumptions: Assumptions = DEFAULT_ASSUMPTIONS): Walls {
  const redisPrimary = (measured.redisCommandsPerSecondLimit * assumptions.storeHeadroom) / measured.redisCommandsPerMessage;
  const cassandraNode = (measured.cassandraMessagesPerSecondLimit * assumptions.storeHeadroom) / assumptions.cassandraReplicationFactor;
  const chatNode = Math.min((assumptions.nodeCores * assumptions.cpuHeadroom * 1000) / measured.serverCoresPer1000, measured.rateWithinAim / measured.nodes || Number.POSITIVE_INFINITY);
  const walls = { redisPrimary, cassandraNode, chatNode };
  const first = (Object.keys(walls) as (keyof typeof walls)[]).reduce((low, part) => (walls[part] < walls[low] ? part : low));
  return { ...walls, first };
}

const Percentiles = z.object({ p99: z.number() });
const Step = z.object({
  offeredPerSecond: z.number(),
  deliveredPerSecond: z.number(),
  undelivered: z.number(),
  deliveryLatencyMs: Percentiles,
  cpuCores: z.object({ server: z.number() }).partial(),
  redisCommandsPerMessage: z.number().nullable(),
  saturated: z.string().nullable(),
});
/** The parts of a bench JSON the model reads (the rest of the file is left alone). */
const BenchFigures = z.object({
  startedAt: z.string(),
  settings: z.object({ nodes: z.number() }),
  scenario1: z.object({ chat: z.object({ steps: z.array(Step) }) }),
  scenario2: z.object({ chat: z.object({ bytesPerSocket: z.object({ rss: z.number() }), connectsPerSecond: z.number() }) }),
  opens: z.array(z.object({ target: z.string(), opensPerSecond: z.number() })).optional(),
  storm: z.object({ backAndSynced: z.number(), survivors: z.number(), totalMs: z.number() }).optional(),
  limits: z.object({
    cassandra: z.object({ steps: z.array(z.object({ path: z.string(), requestsPerMessage: z.number() })), peakMessagesPerSecond: z.object({ store: z.number() }) }),
    redis: z.object({ xadd: z.array(z.object({ perSecond: z.number() })) }),
  }),
});

/**
 * The model's figures from a bench JSON run with at least the direct, idle and limits
 * scenarios; throws, naming what is missing, otherwise.
 */
export function measuredFiguresOf(json: unknown, latencyAimMs = 100): MeasuredFigures & { startedAt: string } {
  const parsed = BenchFigures.safeParse(json);
  if (!parsed.success) {
    const missing = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.')))].join(', ');
    throw new Error(`the bench JSON lacks what the model reads (run it with the direct, idle and limits scenarios): ${missing}`);
  }
  const bench = parsed.data;
  const inFull = bench.scenario1.chat.steps.filter((step) => step.saturated === null && step.undelivered === 0);
  const highest = inFull.at(-1);
  if (highest === undefined) throw new Error('scenario 1 delivered no step in full: the model has no rate to start from');
  const withinAim = inFull.filter((step) => step.deliveryLatencyMs.p99 <= latencyAimMs).at(-1);
  const storePath = bench.limits.cassandra.steps.find((step) => step.path === 'store');
  if (storePath === undefined) throw new Error('the limits scenario measured no store path');
  return {
    startedAt: bench.startedAt,
    nodes: bench.settings.nodes,
    rateWithinAim: withinAim?.offeredPerSecond ?? 0,
    latencyAimMs,
    serverCoresPer1000: ((highest.cpuCores.server ?? 0) / highest.deliveredPerSecond) * 1000,
    redisCommandsPerMessage: highest.redisCommandsPerMessage ?? 0,
    redisCommandsPerSecondLimit: Math.max(...bench.limits.redis.xadd.map((step) => step.perSecond)),
    cassandraRequestsPerMessage: storePath.requestsPerMessage,
    cassandraMessagesPerSecondLimit: bench.limits.cassandra.peakMessagesPerSecond.store,
    bytesPerIdleSocket: bench.scenario2.chat.bytesPerSocket.rss,
    opensPerSecond: Math.max(bench.scenario2.chat.connectsPerSecond, ...(bench.opens ?? []).filter((row) => row.target === 'chat').map((row) => row.opensPerSecond)),
    rehomedPerSecondPerNode: bench.storm === undefined ? undefined : bench.storm.backAndSynced / (bench.storm.totalMs / 1000) / bench.storm.survivors,
  };
}
