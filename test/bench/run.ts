/**
 * The performance benchmark (`npm run bench`): starts its own Redis and Cassandra and three
 * chat nodes on loopback, measures, prints plain-text tables on stdout and writes every
 * figure to a JSON file (path printed) for comparison across runs. Figures, never assertions.
 *
 *   npm run bench [-- options]      or      npx tsx test/bench/run.ts [options]
 *     --rates 50,100,...,8000   offered msg/s of the steps (stepping stops once delivery falls far behind)
 *     --step-seconds 8          length of each step
 *     --pairs 100               sender/recipient socket pairs
 *     --idle-sockets 2000       idle sockets of scenario 2 (raise it only if the machine copes)
 *     --group-messages 60       group messages of scenario 3 (paced so the generator takes ≤ 20,000 member frames/s)
 *     --group-members 10000     members of scenario 3's group, spread over the three nodes
 *     --storm-sockets 10000     sockets on the node drained in the reconnect storm
 *     --storm-spread-ms 0       the drained node's CHAT_DRAIN_SPREAD_MS (0: every client told to come back at once; nodes default to 10000)
 *     --open-sockets 2000       sockets per row of the opening-rate scenario
 *     --out FILE                the JSON file (default: $TMPDIR/chatcluster-bench/bench-<time>.json)
 *     --cpu-prof DIR            each chat node writes a V8 CPU profile (.cpuprofile) into DIR when it stops
 *     --scenarios a,b,...       run only these (default all): direct, tls, idle, group, storm, opens, peers, limits
 *     --quick                   a short smoke run (2 steps of 3 s, 300 idle sockets, 50 group messages to 30 members,
 *                               a storm of 300 sockets, 300 opens per row, one limits step)
 *
 * Before the first scenario that drives chat nodes (direct, group, opens, storm), chat traffic
 * runs through them until Cassandra's JIT compilers go quiet (store-warm-up.ts; one short
 * round with --quick); tls warms its own Cassandra the same way.
 *
 * The report goes to stdout, progress to stderr. direct,peers,limits took 8-8.5 minutes here
 * on 2 cores; every scenario takes a few minutes more (the first run longer still: Centrifugo
 * is built once, about 6 minutes, and cached). Stepping stops at a target's first saturated
 * step, so a faster target runs longer.
 *
 * Scenarios (the --scenarios names), each also run against a plain in-process ws relay where it applies:
 *   direct  1. cross-node direct messages at stepped offered rates (throughput, latency, errors)
 *   idle    2. memory per idle authenticated socket on one node
 *   group   3. a group spread over the three nodes (10,000 members by default): delivery latency to each and
 *              to all members, Redis commands per group message against the number of nodes hosting members
 *   storm   a node holding many sockets is drained; its clients reconnect to the others and sync from their
 *           cursors (per-client and total times, failures) while a light direct load checks no acked message is lost
 *   opens   sockets opened per second on one node, against the relay (with peers, on one server of each peer too)
 *   tls     4. scenario 1 again on three nodes with every hop over TLS (wss://, rediss://, Cassandra
 *              client encryption) and message texts sealed at rest, against scenario 1's plaintext run
 *   peers   scenario 1's load against the peers users pick instead, on 3 servers each over the
 *           same Redis: Socket.IO with the Redis Streams adapter, Centrifugo, Centrifugo with
 *           history and recovery; printed side by side with chat and the relay (run with direct);
 *           with group, scenario 3's group on each peer too (a Socket.IO room, a Centrifugo channel), beside chat's;
 *           with idle and opens, those on one server of each peer; with storm, the storm on 4 servers of
 *           each (the last drained by SIGTERM; Socket.IO without and with connection state recovery,
 *           Centrifugo resubscribing, from its stream position with history), counting what each lost
 *   limits  what this machine's Cassandra and Redis do without a node in the way: the Cassandra
 *           writes of a direct message at full speed and at steady rates (what Cassandra costs
 *           per message at the chat's own rates), raw XADD and XREAD rates, loopback socket writes;
 *           with direct, the direct path's floor: those parts and the relay summed per message at
 *           2,000 msg/s, beside what the chat cost and the aim of 0.25 cores per 1,000 msg/s
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportsOf, startParts, stopEnvironment, type EnvironmentState, type PartName } from '../../dev/env/environment.js';
import { removeWhenOwnerExits } from '../../dev/env/process.js';
import { migrate, startNode, type NodeProcess } from '../../dev/node-processes.js';
import { designFloor, floorRate, formatDesignFloor, type DesignFloor, type NoFloor } from './design-floor.js';
import { runDirectLoad, type DirectLoadOptions, type DirectLoadResult } from './direct-load.js';
import { measureGroupFanout, type GroupFanoutOptions, type GroupFanoutResult } from './group-fanout.js';
import { measureIdleSockets, type IdleSocketsResult } from './idle-sockets.js';
import { measureOpenRate, type OpenRateStep } from './open-rate.js';
import { measureReconnectStorm, type StormOptions, type StormResult } from './reconnect-storm.js';
import { chatStorm } from './storm-chat.js';
import { Launcher } from '../../dev/env/launcher.js';
import { measureCassandraWrites, type CassandraWriteLimits } from './limits/cassandra-writes.js';
import { formatLimits } from './limits/report.js';
import { measureRedisStreams, type RedisStreamLimits } from './limits/redis-streams.js';
import { measureSocketWrites, type SocketWriteLimits } from './limits/socket-writes.js';
import { nodeLogProblems } from './node-logs.js';
import { pidsOf, progress, stopChild, stopChildWhenOwnerExits, Teardown, tearDownOnSignals } from './lifecycle.js';
import { centrifugoTarget, startCentrifugoServers, type CentrifugoServers, type CentrifugoVariant } from './peers/centrifugo.js';
import { comparePeers, formatPeers, type PeerComparison } from './peers/report.js';
import type { ListeningChild } from './listening-child.js';
import { socketIoTarget, startSocketIoServers, type SocketIoServerOptions } from './peers/socket-io.js';
import { centrifugoStorm, SOCKET_IO_RECOVERY, socketIoStorm } from './peers/storm.js';
import { Inspector, metric, readMetrics, settledGoMemory, settledMemory, timerSlackNs, withInspector } from './process-figures.js';
import { withClientMemoryBound } from './redis-client-memory.js';
import { RedisCommandCounter } from './redis-commands.js';
import { warmUpStore, type StoreWarmUp, type StoreWarmUpOptions } from './store-warm-up.js';
import { startRelay, type RelayProcess } from './relay-process.js';
import {
  compare,
  formatComparison,
  formatDirectLoad,
  formatDirectSteps,
  formatGroupFanout,
  formatGroupPeers,
  formatIdleSockets,
  formatOpenRate,
  formatStorm,
  formatStormPeers,
  formatStoreWarmUp,
  table,
  type Comparison,
} from './report.js';
import { chatTarget, relayTarget, type LoadTarget } from './targets.js';

const NODE_COUNT = 3;
/** The performance issue's aim: at most 8 KB of node memory per idle socket, RSS and heap each. */
const IDLE_SOCKET_AIM_BYTES = 8 * 1024;
const IDLE_SOCKETS_MAX = 20_000;

const SCENARIOS = ['direct', 'tls', 'idle', 'group', 'storm', 'opens', 'peers', 'limits'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface BenchOptions {
  scenarios: ReadonlySet<Scenario>;
  direct: DirectLoadOptions;
  /** The traffic that warms Cassandra up before the chat scenarios (store-warm-up.ts). */
  storeWarmUp: StoreWarmUpOptions;
  idleSockets: number;
  groupMessages: number;
  groupMembers: number;
  stormSockets: number;
  /** The direct load during the storm, and how long its clients get to come back. */
  storm: { messagesPerSecond: number; deadlineMs: number; spreadMs: number };
  openSockets: number;
  limits: {
    /** Direct messages whose Cassandra writes are in flight at once, one step each. */
    cassandraConcurrency: number[];
    /** Offered rates (messages/s) of the store path at a steady pace, one step each. */
    cassandraRates: number[];
    /** XADDs in flight over the three writer connections, one step each. */
    xaddConcurrency: number[];
    /** Paced rates (writes/s) of the loopback socket writes, one step each, before a full-speed step. */
    socketWriteRates: number[];
  };
  out: string;
  /** Where each chat node writes a CPU profile when it stops (undefined: none). */
  cpuProfileDir: string | undefined;
}

function parseScenarios(text: string | undefined): Set<Scenario> {
  if (text === undefined) return new Set(SCENARIOS);
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--scenarios takes a list of: ${SCENARIOS.join(', ')}${unknown.length > 0 ? ` (not ${unknown.join(', ')})` : ''}`);
  return new Set(names as Scenario[]);
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      rates: { type: 'string' },
      'step-seconds': { type: 'string' },
      pairs: { type: 'string' },
      'idle-sockets': { type: 'string' },
      'group-messages': { type: 'string' },
      'group-members': { type: 'string' },
      'storm-sockets': { type: 'string' },
      'open-sockets': { type: 'string' },
      'storm-spread-ms': { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  const quick = values.quick;
  const whole = (name: string, text: string | undefined, fallback: number, max: number, min = 1): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  const rates = (values.rates ?? (quick ? '200,1000' : '50,100,200,500,1000,2000,4000,8000'))
    .split(',')
    .map((rate) => whole('rates', rate.trim(), 0, 50_000));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    scenarios: parseScenarios(values.scenarios),
    direct: {
      rates,
      stepMs: whole('step-seconds', values['step-seconds'], quick ? 3 : 8, 60) * 1000,
      graceMs: 3_000,
      pairs: whole('pairs', values.pairs, 100, 1000),
      textBytes: 100,
      warmup: quick ? { ms: 1_000, messagesPerSecond: 200 } : { ms: 30_000, messagesPerSecond: 500 },
    },
    storeWarmUp: quick
      ? { sockets: 100, messagesPerSecond: 200, sendMs: 1_000, quietCores: 0.05, maxMs: 1 }
      : { sockets: 1_000, messagesPerSecond: 1_000, sendMs: 10_000, quietCores: 0.05, maxMs: 180_000 },
    idleSockets: whole('idle-sockets', values['idle-sockets'], quick ? 300 : 2000, IDLE_SOCKETS_MAX),
    groupMessages: whole('group-messages', values['group-messages'], quick ? 50 : 60, 10_000),
    groupMembers: whole('group-members', values['group-members'], quick ? 30 : 10_000, IDLE_SOCKETS_MAX),
    stormSockets: whole('storm-sockets', values['storm-sockets'], quick ? 300 : 10_000, IDLE_SOCKETS_MAX),
    storm: {
      messagesPerSecond: quick ? 50 : 100,
      deadlineMs: quick ? 30_000 : 120_000,
      spreadMs: whole('storm-spread-ms', values['storm-spread-ms'], 0, 600_000, 0),
    },
    openSockets: whole('open-sockets', values['open-sockets'], quick ? 300 : 2000, IDLE_SOCKETS_MAX),
    limits: {
      cassandraConcurrency: quick ? [64] : [16, 64, 256],
      // The lowest direct rate, one where chat is at ease, and the rate of the issue's aim for cores per message.
      cassandraRates: quick ? [200] : [50, 500, 2000],
      xaddConcurrency: quick ? [48] : [3, 48, 384],
      // A quiet rate, the chat's rate of the aim, and one where writes come in bursts of 16 a pacer tick.
      socketWriteRates: quick ? [2000] : [500, 2000, 8000],
    },
    out: resolve(values.out ?? join(tmpdir(), 'chatcluster-bench', `bench-${stamp}.json`)),
    cpuProfileDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
  };
}

/**
 * Redis, and Cassandra when a chosen scenario needs it, in a temporary folder, stopped by the
 * teardown (or by their watchdogs if this process dies). The TLS-only pair is started by
 * scenario 4 alone: an idle second Cassandra costs the other scenarios CPU.
 */
async function startServices(scenarios: ReadonlySet<Scenario>, teardown: Teardown): Promise<EnvironmentState> {
  const dir = mkdtempSync(join(tmpdir(), 'chatcluster-bench-'));
  removeWhenOwnerExits(process.pid, dir);
  const parts: PartName[] = ['redis'];
  if (['direct', 'idle', 'group', 'storm', 'opens', 'tls', 'limits'].some((name) => scenarios.has(name as Scenario))) parts.push('cassandra');
  progress(`starting ${parts.join(', ')} in ${dir}`);
  const state = await startParts(parts, dir, { ownerPid: process.pid });
  teardown.add(`stop ${parts.join(', ')}`, () => stopEnvironment(state));
  return state;
}

/** Starts a chat node and makes sure it is stopped however the run ends. */
async function startBenchNode(env: NodeJS.ProcessEnv, id: string, teardown: Teardown): Promise<NodeProcess> {
  const node = await startNode(env, id);
  if (node.child.pid !== undefined) stopChildWhenOwnerExits(node.child.pid);
  teardown.add(`stop chat node ${id}`, () => stopChild(node.child));
  return node;
}

async function startBenchRelay(env: NodeJS.ProcessEnv, teardown: Teardown): Promise<RelayProcess> {
  const relay = await startRelay(env);
  teardown.add('stop the relay', () => stopChild(relay.child));
  return relay;
}


/** A peer or limit that could not be measured: why, so the rest of the run still reports. */
interface Failed {
  failed: string;
}

/** Whether `result` is a failure: its `failed` is the reason (a measured storm's `failed` is a count of clients). */
function isFailed(result: object): result is Failed {
  return typeof (result as { failed?: unknown }).failed === 'string';
}

/** The results that were measured, by name, and a line saying why for each that was not. */
function measuredAndFailed<T extends object>(
  results: Readonly<Record<string, T | Failed>> | undefined,
  what: (name: string) => string,
): { ran: [string, T][]; failures: string[] } {
  const entries = Object.entries(results ?? {});
  return {
    ran: entries.flatMap(([name, result]): [string, T][] => (isFailed(result) ? [] : [[name, result]])),
    failures: entries.flatMap(([name, result]) => (isFailed(result) ? [`${what(name)} could not be measured: ${result.failed}`] : [])),
  };
}

interface Figures {
  /** The chat scenarios' Cassandra, warmed up before the first of them. */
  storeWarmUp?: StoreWarmUp | Failed;
  scenario1?: { chat: DirectLoadResult; relay: DirectLoadResult };
  /** `storeWarmUp`: the TLS-only Cassandra's, warmed up as the other. */
  scenario4?: { encrypted: DirectLoadResult; plaintext: DirectLoadResult | null; storeWarmUp: StoreWarmUp | Failed | null };
  scenario2?: { chat: IdleSocketsResult; relay: IdleSocketsResult; aimBytesPerSocket: number };
  scenario3?: GroupFanoutResult;
  storm?: StormResult;
  opens?: OpenRateStep[];
  comparison?: Comparison;
  peers?: {
    /** Scenario 1's load on each peer, by the peer's name. */
    direct: Record<string, DirectLoadResult | Failed>;
    /** Scenario 3's group on each peer, by the peer's name, when the group scenario ran too. */
    groups?: Record<string, GroupFanoutResult | Failed>;
    /** The opening rate on one server of each peer, by the peer's name, when the opens scenario ran too. */
    opens?: Record<string, OpenRateStep[] | Failed>;
    /** Scenario 2 on one server of each peer, by the peer's name, when the idle scenario ran too. */
    idle?: Record<string, IdleSocketsResult | Failed>;
    /** The reconnect storm on 4 servers of each peer (one drained), by the peer's name, when the storm ran too. */
    storm?: Record<string, StormResult | Failed>;
    /** chat and the relay (from scenario 1, when run) and every peer that ran, side by side. */
    comparison: PeerComparison;
  };
  limits?: { cassandra: CassandraWriteLimits | Failed; redis: RedisStreamLimits | Failed; sockets: SocketWriteLimits | Failed };
  /** The direct path's parts measured alone, summed, beside the chat's cost (when scenario 1 and the limits ran). */
  directFloor?: DesignFloor | NoFloor;
}

async function attempt<T>(what: string, measure: () => Promise<T>): Promise<T | Failed> {
  try {
    return await measure();
  } catch (error) {
    const failed = error instanceof Error ? error.message : String(error);
    progress(`${what} failed: ${failed}`);
    return { failed };
  }
}

function measured<T extends object>(result: T | Failed): T | null {
  return isFailed(result) ? null : result;
}

interface Run {
  figures: Figures;
  /** Each chat node, as it was when the run was done with it (exit code and signal null: it was still running). */
  nodeExits: { node: string; exitCode: number | null; signal: string | null }[];
  nodes: NodeProcess[];
  cluster: { keyspace: string; redisKeyPrefix: string; redisUrl: string; cassandra: string; cassandraTimerSlackNs: number | null };
}

async function runScenarios(options: BenchOptions, teardown: Teardown): Promise<Run> {
  const { scenarios } = options;
  const services = await startServices(scenarios, teardown);
  const variables = exportsOf(services).variables;
  const redisUrl = variables.CHAT_REDIS_URL ?? '';
  const id = randomBytes(3).toString('hex');
  const redisKeyPrefix = `bench-${id}:`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHAT_REDIS_URL: redisUrl,
    CHAT_CASSANDRA_CONTACT_POINTS: variables.CHAT_CASSANDRA_CONTACT_POINTS,
    CHAT_CASSANDRA_DC: variables.CHAT_CASSANDRA_DC,
    CHAT_CASSANDRA_KEYSPACE: `bench_${id}`,
    CHAT_REDIS_KEY_PREFIX: redisKeyPrefix,
    // The per-user rate limit must not be what caps the offered load.
    CHAT_MESSAGES_PER_SECOND: '100000',
    CHAT_DRAIN_SPREAD_MS: '0',
    LOG_LEVEL: 'warn',
    ...(options.cpuProfileDir === undefined ? {} : { CHATCLUSTER_NODE_CPU_PROF_DIR: options.cpuProfileDir }),
  };
  const redisPid = services.parts.redis?.processes[0]?.pid;
  const cassandraPid = services.parts.cassandra?.processes[0]?.pid;
  const redisPids = redisPid === undefined ? [] : [redisPid];
  const cassandraPids = cassandraPid === undefined ? [] : [cassandraPid];
  const cassandraTimerSlackNs = cassandraPid === undefined ? null : (timerSlackNs(cassandraPid) ?? null);
  const figures: Figures = {};
  const nodes: NodeProcess[] = [];
  const nodeExits: Run['nodeExits'] = [];
  const recordExit = (node: NodeProcess): void => {
    nodeExits.push({ node: node.id, exitCode: node.child.exitCode, signal: node.child.signalCode });
  };

  if (variables.CHAT_CASSANDRA_CONTACT_POINTS !== undefined) {
    progress(`migrating keyspace bench_${id}`);
    await migrate(env);
  }
  const clusterNodes: NodeProcess[] = [];
  if (['direct', 'group', 'storm', 'opens'].some((name) => scenarios.has(name as Scenario))) {
    progress(`starting ${NODE_COUNT} chat nodes`);
    for (let index = 0; index < NODE_COUNT; index++) clusterNodes.push(await startBenchNode(env, `bench-${id}-${index}`, teardown));
    nodes.push(...clusterNodes);
    // A failed warm-up is reported, not fatal: the scenarios after it still measure (on a cooler store).
    if (cassandraPid !== undefined) figures.storeWarmUp = await attempt('store warm-up', () => warmUpStore(chatTarget(clusterNodes), cassandraPid, options.storeWarmUp));
  }
  const redis = await RedisCommandCounter.connect(redisUrl);
  teardown.add('close the Redis counter', () => {
    redis.close();
    return Promise.resolve();
  });

  if (scenarios.has('direct')) {
    // Scenario 1: chat, then the relay, with the same generator.
    progress('scenario 1: cross-node direct messages');
    const chatLoad = await runDirectLoad(chatTarget(clusterNodes), options.direct, {
      cpu: { server: pidsOf(clusterNodes), redis: redisPids, cassandra: cassandraPids, generator: [process.pid] },
      redis,
      metricsUrls: clusterNodes.map((node) => `${node.adminUrl}/metrics`),
    });
    const loadRelay = await startBenchRelay(process.env, teardown);
    const relayLoad = await runDirectLoad(relayTarget(loadRelay), options.direct, { cpu: { server: pidsOf([loadRelay]), generator: [process.pid] } });
    await stopChild(loadRelay.child);
    figures.scenario1 = { chat: chatLoad, relay: relayLoad };
  }

  if (scenarios.has('tls')) {
    // Scenario 4: scenario 1 again with every hop on TLS and texts sealed at rest, on a TLS-only
    // Redis and Cassandra of its own; the plaintext nodes and stores stay up but idle (which
    // scenario 1 did not have beside it: if anything, the cost of encryption is overstated).
    progress('scenario 4: cross-node direct messages, encrypted in transit and at rest');
    const { result: encrypted, storeWarmUp } = await runEncryptedDirectLoad(services.dir, env, id, options, teardown, recordExit);
    figures.scenario4 = { encrypted, plaintext: figures.scenario1?.chat ?? null, storeWarmUp };
  }

  if (scenarios.has('idle')) {
    // Scenario 2: a fresh node (no garbage from scenario 1), with an inspector for forced GCs.
    progress('scenario 2: idle sockets');
    const idleNode = await startBenchNode(withInspector(env), `bench-${id}-idle`, teardown);
    nodes.push(idleNode);
    const nodeInspector = await Inspector.attach(idleNode.output);
    const chatIdle = await measureIdleSockets(
      {
        target: chatTarget([idleNode]),
        memory: (quietMs) => settledMemory(nodeInspector, quietMs),
        connections: async () => {
          const response = await fetch(`${idleNode.adminUrl}/load`, { signal: AbortSignal.timeout(5_000) });
          return ((await response.json()) as { connections: number }).connections;
        },
      },
      options.idleSockets,
      IDLE_IN_FLIGHT,
    );
    nodeInspector.close();
    recordExit(idleNode);
    await stopChild(idleNode.child);
    const idleRelay = await startBenchRelay(withInspector(process.env), teardown);
    const relayInspector = await Inspector.attach(idleRelay.output);
    const relayIdle = await measureIdleSockets(
      { target: relayTarget(idleRelay), memory: (quietMs) => settledMemory(relayInspector, quietMs) },
      options.idleSockets,
      IDLE_IN_FLIGHT,
    );
    relayInspector.close();
    await stopChild(idleRelay.child);
    figures.scenario2 = { chat: chatIdle, relay: relayIdle, aimBytesPerSocket: IDLE_SOCKET_AIM_BYTES };
  }

  if (scenarios.has('group')) {
    // Scenario 3: back to the three nodes only.
    progress('scenario 3: group over three nodes');
    figures.scenario3 = await measureGroupFanout(chatTarget(clusterNodes), redis, (name) => `${redisKeyPrefix}group-nodes:${name}`, {
      ...groupLoad(options),
      metricsUrls: clusterNodes.map((node) => `${node.adminUrl}/metrics`),
      cpu: { server: pidsOf(clusterNodes), redis: redisPids, cassandra: cassandraPids, generator: [process.pid] },
    });
  }

  if (scenarios.has('opens')) {
    progress('opens: socket opening rate on one node, then on the relay');
    // The cores of all three nodes: the others hear of each socket too (presence, routes).
    const chatOpens = await measureOpenRate(chatTarget(clusterNodes.slice(0, 1)), options.openSockets, OPENS_IN_FLIGHT, {
      server: pidsOf(clusterNodes),
      cassandra: cassandraPids,
      redis: redisPids,
      generator: [process.pid],
    });
    const opensRelay = await startBenchRelay(process.env, teardown);
    const relayOpens = await measureOpenRate(relayTarget(opensRelay), options.openSockets, OPENS_IN_FLIGHT, { server: pidsOf([opensRelay]), generator: [process.pid] });
    await stopChild(opensRelay.child);
    figures.opens = [...chatOpens, ...relayOpens];
  }

  if (scenarios.has('storm')) {
    // A fourth node to drain (it exits once drained); its clients come back to the three.
    progress('storm: a node drained under its clients');
    const stormNode = await startBenchNode({ ...env, CHAT_DRAIN_SPREAD_MS: String(options.storm.spreadMs) }, `bench-${id}-storm`, teardown);
    nodes.push(stormNode);
    figures.storm = await measureReconnectStorm(chatStorm(stormNode, clusterNodes, { cassandra: cassandraPids, redis: redisPids, generator: [process.pid] }), stormLoad(options));
    recordExit(stormNode);
    await stopChild(stormNode.child);
  }
  if (figures.scenario1 !== undefined) {
    figures.comparison = compare(figures.scenario1.chat, figures.scenario1.relay, figures.scenario2?.chat ?? null, figures.scenario2?.relay ?? null);
  }
  // The chat nodes are done: the peers and the limits get the machine without them.
  for (const node of clusterNodes) recordExit(node);
  await Promise.all(clusterNodes.map((node) => stopChild(node.child)));

  if (scenarios.has('peers')) figures.peers = await runPeers(options, services, redisUrl, redisKeyPrefix, redisPids, redis, teardown, figures.scenario1);

  if (scenarios.has('limits')) {
    progress('limits: Cassandra writes of a direct message, Redis streams, loopback socket writes');
    const cassandra = await attempt('limits: Cassandra', () =>
      measureCassandraWrites(
        { contactPoints: (variables.CHAT_CASSANDRA_CONTACT_POINTS ?? '').split(','), localDataCenter: variables.CHAT_CASSANDRA_DC ?? '', keyspace: `bench_${id}` },
        { concurrency: options.limits.cassandraConcurrency, pacedRates: options.limits.cassandraRates, stepMs: options.direct.stepMs, warmupMs: options.direct.warmup.ms, pairs: options.direct.pairs, textBytes: options.direct.textBytes },
        { cassandra: cassandraPids, generator: [process.pid] },
      ),
    );
    const redisLimits = await attempt('limits: Redis streams', () =>
      measureRedisStreams(
        redisUrl,
        redisKeyPrefix,
        { nodes: NODE_COUNT, concurrency: options.limits.xaddConcurrency, stepMs: options.direct.stepMs, textBytes: options.direct.textBytes },
        { redis: redisPids, generator: [process.pid] },
      ),
    );
    const sockets = await attempt('limits: socket writes', () =>
      measureSocketWrites({ sockets: options.direct.pairs, bytes: options.direct.textBytes, rates: options.limits.socketWriteRates, stepMs: options.direct.stepMs }, [process.pid]),
    );
    figures.limits = { cassandra, redis: redisLimits, sockets };
    if (figures.scenario1 !== undefined) figures.directFloor = directFloorOf(figures.scenario1, cassandra, redisLimits);
  }

  return {
    figures,
    nodeExits,
    nodes,
    cluster: {
      keyspace: `bench_${id}`,
      redisKeyPrefix,
      redisUrl,
      cassandra: variables.CHAT_CASSANDRA_CONTACT_POINTS ?? '',
      cassandraTimerSlackNs,
    },
  };
}

/** The direct path's floor from scenario 1 and the limits, or what is missing for it. */
function directFloorOf(
  direct: { chat: DirectLoadResult; relay: DirectLoadResult },
  cassandra: CassandraWriteLimits | Failed,
  redis: RedisStreamLimits | Failed,
): DesignFloor | NoFloor {
  if (isFailed(cassandra) || isFailed(redis)) return { missing: [...(isFailed(cassandra) ? ['Cassandra alone'] : []), ...(isFailed(redis) ? ['Redis streams'] : [])] };
  const offeredPerSecond = floorRate(direct.chat, direct.relay, cassandra);
  if (offeredPerSecond === undefined) return { missing: ['a rate chat, the relay and Cassandra alone all ran'] };
  return designFloor({ offeredPerSecond, ...direct, cassandra, redis, machineCores: cpus().length });
}

/** Scenario 2's connects in flight at once. */
const IDLE_IN_FLIGHT = 50;
/** The opening scenario's rows: connects in flight at once. */
const OPENS_IN_FLIGHT = [10, 100];

/**
 * How much memory the bench's Redis may give its clients while Socket.IO's recovery storm
 * runs, from its servers' start to their stop (they keep restoring after the storm's
 * deadline, until they stop). Each restore reads the adapter's stream from the client's offset
 * to its end in one reply, and those replies wait in Redis's output buffers (unbounded by
 * default) while the servers fall behind: 20.6 GB before the OOM killer ended Redis in one
 * run. Past this, Redis closes the connections holding the most. The server's ioredis then
 * reconnects and sends its unanswered commands again: an `XRANGE` builds its reply anew, a
 * `GETDEL` that had already run finds no session (that client gets a fresh one and loses what
 * it missed), an `XADD` may be written twice. Costly for Socket.IO, but the machine survives.
 */
const SOCKET_IO_RESTORE_CLIENT_MEMORY = 4 * 1024 ** 3;

/** The reconnect storm's clients and load, the same for chat and a peer. */
function stormLoad(options: BenchOptions): StormOptions {
  return {
    sockets: options.stormSockets,
    openConcurrency: 50,
    messagesPerSecond: options.storm.messagesPerSecond,
    senders: 6,
    deadlineMs: options.storm.deadlineMs,
  };
}

/** Scenario 3's group, the same for chat and a peer. */
function groupLoad(options: BenchOptions): GroupFanoutOptions {
  return {
    members: options.groupMembers,
    messages: options.groupMessages,
    // The generator reads every member's frame: at most 20,000 a second, at most 25 messages a second.
    messagesPerSecond: Math.max(1, Math.min(25, Math.floor(20_000 / options.groupMembers))),
    concurrency: 50,
  };
}

/** A scenario on a peer's fresh servers: how to measure it on Socket.IO's, and on Centrifugo's. */
interface PeerMeasure<T> {
  /** Measures on Socket.IO servers started with `recovery` (connection state recovery) on or off. */
  socketIo: (servers: ListeningChild[], recovery: boolean) => Promise<T>;
  /** How the Socket.IO servers start (default: this process's environment). */
  socketIoOptions?: Omit<SocketIoServerOptions, 'recovery'>;
  /** Measures on Socket.IO a second time, with connection state recovery on ('socket.io+recovery'). */
  alsoWithRecovery?: boolean;
  /** Runs that second measure, from its servers' start to their stop, inside this (e.g. a bound on Redis). */
  aroundSocketIoRecovery?: (run: () => Promise<T>) => Promise<T>;
  centrifugo: (started: CentrifugoServers) => Promise<T>;
  /** Servers of each peer (default: as many as chat's cluster has nodes). */
  servers?: number;
}

/** A scenario that needs only a peer's load target (and its servers' pids, for their CPU). */
function onTargets<T>(measure: (target: LoadTarget, serverPids: number[]) => Promise<T>): PeerMeasure<T> {
  return {
    socketIo: (servers) => measure(socketIoTarget(servers), pidsOf(servers)),
    centrifugo: (started) => measure(centrifugoTarget(started), started.servers.map((server) => server.process.pid)),
  };
}

function firstOf<T>(servers: readonly T[]): T {
  const first = servers[0];
  if (first === undefined) throw new Error('no server was started');
  return first;
}

/** How scenario 2's figures were taken on each peer, and what differs from chat's sockets. */
const SOCKET_IO_MEMORY = 'its sockets carry no authentication';
const CENTRIFUGO_MEMORY =
  "2 full GCs through its pprof endpoint (heap?gc=1), then its /metrics: heap = go_memstats_heap_alloc_bytes, external = goroutine stacks (go_memstats_stack_inuse_bytes); each socket is JWT-authenticated and subscribed to the user's personal channel; Go hands freed pages back to the OS lazily, so its \"rss left\" overstates what stays in use";

/**
 * The peers under scenario 1's load, one after another, each on 3 servers over the bench's
 * Redis (keys of their own under this run's prefix), each stopped before the next starts.
 */
async function runPeers(
  options: BenchOptions,
  services: EnvironmentState,
  redisUrl: string,
  redisKeyPrefix: string,
  redisPids: number[],
  redis: RedisCommandCounter,
  teardown: Teardown,
  scenario1: Figures['scenario1'],
): Promise<NonNullable<Figures['peers']>> {
  /** Runs `measure` on `count` fresh Socket.IO servers over this run's stream `stream`, stopping them after (or at teardown). */
  const onSocketIo = async <T>(stream: string, count: number, measure: (servers: ListeningChild[]) => Promise<T>, serverOptions?: SocketIoServerOptions): Promise<T> => {
    const servers = await startSocketIoServers(count, redisUrl, `${redisKeyPrefix}${stream}`, serverOptions);
    const stop = (): Promise<unknown> => Promise.all(servers.map((server) => stopChild(server.child)));
    teardown.add(`stop the Socket.IO servers (${stream})`, stop);
    try {
      return await measure(servers);
    } finally {
      await stop();
    }
  };
  const launcher = new Launcher(join(services.dir, 'centrifugo'), { ownerPid: process.pid });
  teardown.add('stop the Centrifugo servers', () => launcher.stopAll());
  /** Runs `measure` on `count` fresh Centrifugo servers of `variant` over this run's keys `prefix`, stopping them after (those started, if one fails). */
  const onCentrifugo = async <T>(variant: CentrifugoVariant, prefix: string, count: number, measure: (started: CentrifugoServers) => Promise<T>): Promise<T> => {
    try {
      return await measure(await startCentrifugoServers(launcher, variant, count, redisUrl, `${redisKeyPrefix}${prefix}`));
    } finally {
      await launcher.stopAll();
    }
  };
  const plain: CentrifugoVariant = { name: 'centrifugo', history: false };
  const withHistory: CentrifugoVariant = { name: 'centrifugo+history', history: true };

  /** Runs a scenario on each peer in turn, each on fresh servers and keys of its own: Socket.IO, then Centrifugo without and with history. */
  const onEachPeer = async <T>(scenario: string, measure: PeerMeasure<T>): Promise<Record<string, T | Failed>> => {
    const count = measure.servers ?? NODE_COUNT;
    const onSocketIoWith = (recovery: boolean) => (): Promise<T> => {
      const run = (): Promise<T> =>
        onSocketIo(`${recovery ? SOCKET_IO_RECOVERY : 'socket.io'}-${scenario}`, count, (servers) => measure.socketIo(servers, recovery), { ...measure.socketIoOptions, recovery });
      return recovery && measure.aroundSocketIoRecovery !== undefined ? measure.aroundSocketIoRecovery(run) : run();
    };
    const runs: [string, () => Promise<T>][] = [
      ['socket.io', onSocketIoWith(false)],
      ...(measure.alsoWithRecovery === true ? [[SOCKET_IO_RECOVERY, onSocketIoWith(true)] as [string, () => Promise<T>]] : []),
      ...[plain, withHistory].map((variant): [string, () => Promise<T>] => [variant.name, () => onCentrifugo(variant, `${variant.name}-${scenario}`, count, measure.centrifugo)]),
    ];
    const results: Record<string, T | Failed> = {};
    for (const [peer, run] of runs) {
      progress(`peers: ${scenario} on ${peer}`);
      results[peer] = await attempt(`peers: ${scenario} on ${peer}`, run);
    }
    return results;
  };
  const direct = await onEachPeer(
    'direct',
    onTargets((target, serverPids) => runDirectLoad(target, options.direct, { cpu: { server: serverPids, redis: redisPids, generator: [process.pid] }, redis })),
  );
  const groups = options.scenarios.has('group')
    ? await onEachPeer(
        'group',
        onTargets((target, serverPids) => measureGroupFanout(target, redis, null, { ...groupLoad(options), cpu: { server: serverPids, redis: redisPids, generator: [process.pid] } })),
      )
    : undefined;
  // Opening and idle sockets use one server of each peer (target.open's node 0), as chat's use one node.
  const opens = options.scenarios.has('opens')
    ? await onEachPeer(
        'opens',
        onTargets((target, serverPids) => measureOpenRate(target, options.openSockets, OPENS_IN_FLIGHT, { server: serverPids, redis: redisPids, generator: [process.pid] })),
      )
    : undefined;
  const idle = options.scenarios.has('idle')
    ? await onEachPeer<IdleSocketsResult>('idle', {
        socketIoOptions: { env: withInspector(process.env) },
        socketIo: async (servers) => {
          const inspector = await Inspector.attach(firstOf(servers).output);
          try {
            return await measureIdleSockets(
              { target: socketIoTarget(servers), memory: (quietMs) => settledMemory(inspector, quietMs), memoryNote: SOCKET_IO_MEMORY },
              options.idleSockets,
              IDLE_IN_FLIGHT,
            );
          } finally {
            inspector.close();
          }
        },
        centrifugo: (started) => {
          const first = `http://127.0.0.1:${firstOf(started.servers).port}`;
          return measureIdleSockets(
            {
              target: centrifugoTarget(started),
              memory: (quietMs) => settledGoMemory(first, quietMs),
              memoryNote: CENTRIFUGO_MEMORY,
              connections: async () => metric(await readMetrics(`${first}/metrics`), 'centrifugo_node_num_clients'),
            },
            options.idleSockets,
            IDLE_IN_FLIGHT,
          );
        },
      })
    : undefined;
  // The storm as chat's: a fourth server drained, its clients back on the other three.
  const stormCpu = { redis: redisPids, generator: [process.pid] };
  const storm = options.scenarios.has('storm')
    ? await onEachPeer<StormResult>('storm', {
        servers: NODE_COUNT + 1,
        alsoWithRecovery: true,
        socketIo: (servers, recovery) => measureReconnectStorm(socketIoStorm(servers, stormCpu, recovery), stormLoad(options)),
        aroundSocketIoRecovery: async (run) => {
          const { result, clientsEvicted } = await withClientMemoryBound(redisUrl, SOCKET_IO_RESTORE_CLIENT_MEMORY, run);
          return { ...result, redisClientMemory: { limitBytes: SOCKET_IO_RESTORE_CLIENT_MEMORY, clientsEvicted } };
        },
        centrifugo: (started) => measureReconnectStorm(centrifugoStorm(started, stormCpu), stormLoad(options)),
      })
    : undefined;

  const ran = [scenario1?.chat, scenario1?.relay, ...Object.values(direct).map(measured)].filter(
    (result): result is DirectLoadResult => result !== undefined && result !== null,
  );
  return {
    direct,
    ...(groups === undefined ? {} : { groups }),
    ...(opens === undefined ? {} : { opens }),
    ...(idle === undefined ? {} : { idle }),
    ...(storm === undefined ? {} : { storm }),
    comparison: comparePeers(ran),
  };
}

/** Three nodes whose every hop is TLS and whose texts are sealed at rest, under scenario 1's load; stopped after. */
async function runEncryptedDirectLoad(
  servicesDir: string,
  plainEnv: NodeJS.ProcessEnv,
  id: string,
  options: BenchOptions,
  teardown: Teardown,
  recordExit: (node: NodeProcess) => void,
): Promise<{ result: DirectLoadResult; storeWarmUp: StoreWarmUp | Failed | null }> {
  progress('starting the TLS-only Redis and Cassandra');
  const services = await startParts(['tls'], join(servicesDir, 'tls-pair'), { ownerPid: process.pid });
  teardown.add('stop the TLS-only pair', () => stopEnvironment(services));
  const { variables } = exportsOf(services);
  const keysDir = mkdtempSync(join(tmpdir(), 'chatcluster-bench-keys-'));
  removeWhenOwnerExits(process.pid, keysDir);
  writeFileSync(join(keysDir, 'v1'), randomBytes(32).toString('base64'));
  const env: NodeJS.ProcessEnv = {
    ...plainEnv,
    CHAT_REDIS_URL: variables.CHAT_REDIS_TLS_URL,
    CHAT_CASSANDRA_CONTACT_POINTS: variables.CHAT_CASSANDRA_TLS_CONTACT_POINTS,
    CHAT_CASSANDRA_USERNAME: variables.CHAT_CASSANDRA_TLS_USERNAME,
    CHAT_CASSANDRA_PASSWORD: variables.CHAT_CASSANDRA_TLS_PASSWORD,
    CHAT_CASSANDRA_KEYSPACE: `bench_${id}_tls`,
    CHAT_REDIS_CA_FILE: variables.CHAT_TEST_CA_FILE,
    CHAT_CASSANDRA_CA_FILE: variables.CHAT_TEST_CA_FILE,
    CHAT_TLS_CERT_FILE: variables.CHAT_TEST_CERT_FILE,
    CHAT_TLS_KEY_FILE: variables.CHAT_TEST_KEY_FILE,
    CHAT_AT_REST_KEYS_DIR: keysDir,
  };
  await migrate(env);
  const nodes: NodeProcess[] = [];
  for (let index = 0; index < NODE_COUNT; index++) nodes.push(await startBenchNode(env, `bench-${id}-tls-${index}`, teardown));
  const pidOf = (name: string): number | undefined => services.parts.tls?.processes.find((server) => server.name === name)?.pid;
  const [redisPid, cassandraPid] = [pidOf('redis-tls'), pidOf('cassandra')];
  const ca = readFileSync(variables.CHAT_TEST_CA_FILE ?? '', 'utf8');
  const target = chatTarget(nodes, { name: 'chat, encrypted', ca });
  // Warmed as the plaintext one was, or the comparison would charge encryption with a JVM's compiling.
  const storeWarmUp = cassandraPid === undefined ? null : await attempt('store warm-up (TLS)', () => warmUpStore(target, cassandraPid, options.storeWarmUp));
  const result = await runDirectLoad(target, options.direct, {
    cpu: {
      server: pidsOf(nodes),
      redis: redisPid === undefined ? [] : [redisPid],
      cassandra: cassandraPid === undefined ? [] : [cassandraPid],
      generator: [process.pid],
    },
    metricsUrls: nodes.map((node) => `${node.adminUrl}/metrics`),
  });
  for (const node of nodes) recordExit(node);
  await Promise.all(nodes.map((node) => stopChild(node.child)));
  await stopEnvironment(services);
  return { result, storeWarmUp };
}

/** A warm-up's line in the report, or why it failed. */
function warmUpText(warmUp: StoreWarmUp | Failed, storeName: string): string {
  return isFailed(warmUp) ? `${storeName}: the warm-up failed (${warmUp.failed}); the scenarios after it met a store still compiling` : formatStoreWarmUp(warmUp, storeName);
}

/** The report's sections for what ran, in scenario order. */
function reportSections(figures: Figures, options: BenchOptions): string[] {
  const sections: string[] = [];
  if (figures.storeWarmUp !== undefined) sections.push(warmUpText(figures.storeWarmUp, 'The chat scenarios\' Cassandra'));
  if (figures.scenario1 !== undefined) sections.push(formatDirectLoad(figures.scenario1.chat, figures.scenario1.relay));
  if (figures.scenario4 !== undefined) {
    const { encrypted, plaintext, storeWarmUp } = figures.scenario4;
    sections.push(
      [
        formatDirectSteps(
          [encrypted, ...(plaintext === null ? [] : [plaintext])],
          `Scenario 4: scenario 1's load with every hop on TLS and texts sealed at rest${plaintext === null ? '' : ", beside scenario 1's plaintext run"}`,
        ),
        ...(storeWarmUp === null ? [] : [warmUpText(storeWarmUp, 'Its TLS-only Cassandra')]),
      ].join('\n'),
    );
  }
  if (figures.scenario2 !== undefined) {
    const { ran, failures } = measuredAndFailed(figures.peers?.idle, (peer) => `Idle sockets on ${peer}`);
    sections.push([formatIdleSockets(figures.scenario2.chat, [figures.scenario2.relay, ...ran.map(([, result]) => result)], IDLE_SOCKET_AIM_BYTES), ...failures].join('\n'));
  }
  if (figures.scenario3 !== undefined) sections.push(formatGroupFanout(figures.scenario3));
  if (figures.peers?.groups !== undefined) {
    const { ran, failures } = measuredAndFailed(figures.peers.groups, (peer) => `Scenario 3 on ${peer}`);
    const withChat = [...(figures.scenario3 === undefined ? [] : [['chat', figures.scenario3] as const]), ...ran];
    sections.push([...(ran.length > 0 ? [formatGroupPeers(withChat)] : []), ...failures].join('\n'));
  }
  if (figures.opens !== undefined || figures.peers?.opens !== undefined) {
    const { ran, failures } = measuredAndFailed(figures.peers?.opens, (peer) => `Opening on ${peer}`);
    sections.push([formatOpenRate([...(figures.opens ?? []), ...ran.flatMap(([, steps]) => steps)]), ...failures].join('\n'));
  }
  if (figures.storm !== undefined || figures.peers?.storm !== undefined) {
    const { ran, failures } = measuredAndFailed(figures.peers?.storm, (peer) => `The storm on ${peer}`);
    const storms = [...(figures.storm === undefined ? [] : [figures.storm]), ...ran.map(([, result]) => result)];
    sections.push(...storms.map(formatStorm));
    if (ran.length > 0) sections.push(formatStormPeers(storms));
    if (failures.length > 0) sections.push(failures.join('\n'));
  }
  if (figures.comparison !== undefined) sections.push(formatComparison(figures.comparison));
  const { peers, limits } = figures;
  if (peers !== undefined) {
    const { ran, failures } = measuredAndFailed(peers.direct, (peer) => peer);
    if (ran.length > 0) sections.push(formatDirectSteps(ran.map(([, result]) => result), 'Peers under the same load, per step: what the generator saw, then what it cost (server = the peer\'s 3 processes)'));
    sections.push([formatPeers(peers.comparison, options.direct.pairs, options.direct.stepMs / 1000), ...failures].join('\n'));
  }
  if (limits !== undefined) {
    const { failures } = measuredAndFailed(limits, (name) => `${name} limits`);
    sections.push([formatLimits(measured(limits.cassandra), measured(limits.redis), measured(limits.sockets)), ...failures].join('\n'));
  }
  if (figures.directFloor !== undefined) sections.push(formatDesignFloor(figures.directFloor));
  return sections;
}

function formatSlack(slackNs: number | null): string {
  return slackNs === null ? "unknown (reading another process's needs CAP_SYS_NICE)" : `${slackNs / 1000} µs`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const teardown = new Teardown();
  tearDownOnSignals(teardown);
  const startedAt = new Date();
  const loadAtStart = loadavg().map((value) => Math.round(value * 100) / 100);
  try {
    const { figures, nodeExits, nodes, cluster } = await runScenarios(options, teardown);
    await teardown.run();
    const problems = nodeLogProblems(nodes);
    const finishedAt = new Date();
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? '?',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadavg().map((value) => Math.round(value * 100) / 100),
      },
      settings: { ...options, scenarios: [...options.scenarios], nodes: NODE_COUNT },
      cluster,
      ...figures,
      nodeLog: { warningsAndErrors: problems, nodesBeforeTeardown: nodeExits },
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);

    const sections = [
      `ChatCluster benchmark, ${report.startedAt}: ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, Node ${process.version}; ` +
        `scenarios ${[...options.scenarios].join(', ')}; ${NODE_COUNT} servers of each target, Redis (and Cassandra) on the same machine, everything on loopback; ` +
        `took ${report.durationSeconds} s; load average ${loadAtStart.join(' ')} at start, ${report.machine.loadAverageAtEnd.join(' ')} at end` +
        (cluster.cassandra === '' ? '' : `; Cassandra's threads' timer slack ${formatSlack(cluster.cassandraTimerSlackNs)} (dev/env/cassandra.ts says why)`),
      ...reportSections(figures, options),
      nodes.length === 0
        ? 'No chat node ran.'
        : Object.keys(problems).length === 0
          ? 'Node logs: no warnings or errors.'
          : `Node logs (warnings and errors, by message):\n${table(['count', 'message'], Object.entries(problems).map(([message, count]) => [count, message]))}`,
      `All figures: ${options.out}`,
    ];
    process.stdout.write(`\n${sections.join('\n\n')}\n`);
  } finally {
    await teardown.run();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
