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
 *     --group-messages 200      group messages of scenario 3
 *     --out FILE                the JSON file (default: $TMPDIR/chatcluster-bench/bench-<time>.json)
 *     --quick                   a short smoke run (2 steps of 3 s, 300 idle sockets, 50 group messages)
 *
 * The report goes to stdout, progress to stderr. A full run takes about 3-4 minutes on 2 cores.
 *
 * Scenarios, each also run against a plain in-process ws relay (the peer) where it applies:
 *   1. cross-node direct messages at stepped offered rates (throughput, latency, errors)
 *   2. memory per idle authenticated socket on one node
 *   3. Redis commands per group message for a group spread over the three nodes
 *   4. scenario 1 again on three nodes with every hop over TLS (wss://, rediss://, Cassandra
 *      client encryption) and message texts sealed at rest, against scenario 1's plaintext run
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportsOf, startParts, stopEnvironment, type EnvironmentState } from '../../dev/env/environment.js';
import { removeWhenOwnerExits } from '../../dev/env/process.js';
import { migrate, startNode, type NodeProcess } from '../../dev/node-processes.js';
import { runDirectLoad, type DirectLoadOptions, type DirectLoadResult } from './direct-load.js';
import { measureGroupFanout, type GroupFanoutResult } from './group-fanout.js';
import { measureIdleSockets, type IdleSocketsResult } from './idle-sockets.js';
import { nodeLogProblems } from './node-logs.js';
import { progress, stopChild, stopChildWhenOwnerExits, Teardown, tearDownOnSignals } from './lifecycle.js';
import { Inspector } from './process-figures.js';
import { RedisCommandCounter } from './redis-commands.js';
import { startRelay, type RelayProcess } from './relay-process.js';
import {
  compare,
  formatComparison,
  formatDirectLoad,
  formatGroupFanout,
  formatIdleSockets,
  table,
  type Comparison,
} from './report.js';
import { chatTarget, relayTarget } from './targets.js';

const NODE_COUNT = 3;
/** The aim stated in the issue: at most 12 KB of node memory per idle socket. */
const IDLE_SOCKET_AIM_BYTES = 12 * 1024;
const IDLE_SOCKETS_MAX = 20_000;

interface BenchOptions {
  direct: DirectLoadOptions;
  idleSockets: number;
  groupMessages: number;
  out: string;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rates: { type: 'string' },
      'step-seconds': { type: 'string' },
      pairs: { type: 'string' },
      'idle-sockets': { type: 'string' },
      'group-messages': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const quick = values.quick;
  const whole = (name: string, text: string | undefined, fallback: number, max: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
    return value;
  };
  const rates = (values.rates ?? (quick ? '200,1000' : '50,100,200,500,1000,2000,4000,8000'))
    .split(',')
    .map((rate) => whole('rates', rate.trim(), 0, 50_000));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    direct: {
      rates,
      stepMs: whole('step-seconds', values['step-seconds'], quick ? 3 : 8, 60) * 1000,
      graceMs: 3_000,
      pairs: whole('pairs', values.pairs, 100, 1000),
      textBytes: 100,
      warmupMs: quick ? 1_000 : 5_000,
    },
    idleSockets: whole('idle-sockets', values['idle-sockets'], quick ? 300 : 2000, IDLE_SOCKETS_MAX),
    groupMessages: whole('group-messages', values['group-messages'], quick ? 50 : 200, 10_000),
    out: resolve(values.out ?? join(tmpdir(), 'chatcluster-bench', `bench-${stamp}.json`)),
  };
}

/** Redis and Cassandra in a temporary folder, stopped by the teardown (or by their watchdogs if this process dies). */
async function startServices(teardown: Teardown): Promise<EnvironmentState> {
  const dir = mkdtempSync(join(tmpdir(), 'chatcluster-bench-'));
  removeWhenOwnerExits(process.pid, dir);
  progress(`starting Redis and Cassandra, and a TLS-only pair, in ${dir}`);
  const state = await startParts(['redis', 'cassandra', 'tls'], dir, { ownerPid: process.pid });
  teardown.add('stop Redis and Cassandra', () => stopEnvironment(state));
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

/** `NODE_OPTIONS` plus an inspector on a free loopback port, for forced GCs. */
function withInspector(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, '--inspect=127.0.0.1:0'].filter((part) => part !== undefined && part !== '').join(' ') };
}

interface Figures {
  scenario1: { chat: DirectLoadResult; relay: DirectLoadResult };
  scenario4: { encrypted: DirectLoadResult; plaintext: DirectLoadResult };
  scenario2: { chat: IdleSocketsResult; relay: IdleSocketsResult; aimBytesPerSocket: number };
  scenario3: GroupFanoutResult;
  comparison: Comparison;
}

async function runScenarios(options: BenchOptions, teardown: Teardown): Promise<{ figures: Figures; nodes: NodeProcess[]; cluster: Record<string, string> }> {
  const services = await startServices(teardown);
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
  };
  progress(`migrating keyspace bench_${id}`);
  await migrate(env);
  progress(`starting ${NODE_COUNT} chat nodes`);
  const nodes: NodeProcess[] = [];
  for (let index = 0; index < NODE_COUNT; index++) nodes.push(await startBenchNode(env, `bench-${id}-${index}`, teardown));
  const redis = await RedisCommandCounter.connect(redisUrl);
  teardown.add('close the Redis counter', () => {
    redis.close();
    return Promise.resolve();
  });
  const redisPid = services.parts.redis?.processes[0]?.pid;
  const cassandraPid = services.parts.cassandra?.processes[0]?.pid;
  const pidsOf = (children: readonly { child: { pid?: number | undefined } }[]): number[] =>
    children.flatMap(({ child }) => (child.pid === undefined ? [] : [child.pid]));

  // Scenario 1: chat, then the relay, with the same generator.
  progress('scenario 1: cross-node direct messages');
  const chatLoad = await runDirectLoad(chatTarget(nodes), options.direct, {
    cpu: {
      server: pidsOf(nodes),
      redis: redisPid === undefined ? [] : [redisPid],
      cassandra: cassandraPid === undefined ? [] : [cassandraPid],
      generator: [process.pid],
    },
    redis,
    metricsUrls: nodes.map((node) => `${node.adminUrl}/metrics`),
  });
  const loadRelay = await startBenchRelay(process.env, teardown);
  const relayLoad = await runDirectLoad(relayTarget(loadRelay), options.direct, { cpu: { server: pidsOf([loadRelay]), generator: [process.pid] } });
  await stopChild(loadRelay.child);

  // Scenario 4: scenario 1 again with every hop on TLS and texts sealed at rest; the
  // plaintext nodes stay up but idle.
  progress('scenario 4: cross-node direct messages, encrypted in transit and at rest');
  const encryptedLoad = await runEncryptedDirectLoad(variables, env, id, options, teardown, services, pidsOf);

  // Scenario 2: a fresh node (no garbage from scenario 1), with an inspector for forced GCs.
  progress('scenario 2: idle sockets');
  const idleNode = await startBenchNode(withInspector(env), `bench-${id}-idle`, teardown);
  const nodeInspector = await Inspector.attach(idleNode.output);
  const chatIdle = await measureIdleSockets(
    {
      target: chatTarget([idleNode]),
      metricsUrl: `${idleNode.adminUrl}/metrics`,
      inspector: nodeInspector,
      connections: async () => {
        const response = await fetch(`${idleNode.adminUrl}/load`, { signal: AbortSignal.timeout(5_000) });
        return ((await response.json()) as { connections: number }).connections;
      },
    },
    options.idleSockets,
    50,
  );
  nodeInspector.close();
  await stopChild(idleNode.child);
  const idleRelay = await startBenchRelay(withInspector(process.env), teardown);
  const relayInspector = await Inspector.attach(idleRelay.output);
  const relayIdle = await measureIdleSockets({ target: relayTarget(idleRelay), metricsUrl: idleRelay.metricsUrl, inspector: relayInspector }, options.idleSockets, 50);
  relayInspector.close();
  await stopChild(idleRelay.child);

  // Scenario 3: back to the three nodes only.
  progress('scenario 3: group over three nodes');
  const group = await measureGroupFanout(chatTarget(nodes), redis, (name) => `${redisKeyPrefix}group-nodes:${name}`, {
    membersPerNode: 3,
    messages: options.groupMessages,
    messagesPerSecond: 25,
  });

  return {
    figures: {
      scenario1: { chat: chatLoad, relay: relayLoad },
      scenario4: { encrypted: encryptedLoad, plaintext: chatLoad },
      scenario2: { chat: chatIdle, relay: relayIdle, aimBytesPerSocket: IDLE_SOCKET_AIM_BYTES },
      scenario3: group,
      comparison: compare(chatLoad, relayLoad, chatIdle, relayIdle),
    },
    nodes: [...nodes, idleNode],
    cluster: { keyspace: `bench_${id}`, redisKeyPrefix, redisUrl, cassandra: variables.CHAT_CASSANDRA_CONTACT_POINTS ?? '' },
  };
}

/** Three nodes whose every hop is TLS and whose texts are sealed at rest, under scenario 1's load; stopped after. */
async function runEncryptedDirectLoad(
  variables: Record<string, string>,
  plainEnv: NodeJS.ProcessEnv,
  id: string,
  options: BenchOptions,
  teardown: Teardown,
  services: EnvironmentState,
  pidsOf: (children: readonly { child: { pid?: number | undefined } }[]) => number[],
): Promise<DirectLoadResult> {
  const keysDir = mkdtempSync(join(tmpdir(), 'chatcluster-bench-keys-'));
  removeWhenOwnerExits(process.pid, keysDir);
  writeFileSync(join(keysDir, 'v1'), randomBytes(32).toString('base64'));
  const env: NodeJS.ProcessEnv = {
    ...plainEnv,
    CHAT_REDIS_URL: variables.CHAT_REDIS_TLS_URL,
    CHAT_CASSANDRA_CONTACT_POINTS: variables.CHAT_CASSANDRA_TLS_CONTACT_POINTS,
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
  const result = await runDirectLoad(chatTarget(nodes, { name: 'chat, encrypted', ca }), options.direct, {
    cpu: {
      server: pidsOf(nodes),
      redis: redisPid === undefined ? [] : [redisPid],
      cassandra: cassandraPid === undefined ? [] : [cassandraPid],
      generator: [process.pid],
    },
    metricsUrls: nodes.map((node) => `${node.adminUrl}/metrics`),
  });
  await Promise.all(nodes.map((node) => stopChild(node.child)));
  return result;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const teardown = new Teardown();
  tearDownOnSignals(teardown);
  const startedAt = new Date();
  const loadAtStart = loadavg().map((value) => Math.round(value * 100) / 100);
  try {
    const { figures, nodes, cluster } = await runScenarios(options, teardown);
    const exits = nodes.map((node) => ({ node: node.id, exitCode: node.child.exitCode, signal: node.child.signalCode }));
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
      settings: { ...options, nodes: NODE_COUNT },
      cluster,
      ...figures,
      nodeLog: { warningsAndErrors: problems, nodesBeforeTeardown: exits },
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);

    const sections = [
      `ChatCluster benchmark, ${report.startedAt}: ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, Node ${process.version}; ` +
        `${NODE_COUNT} chat nodes, Redis and Cassandra on the same machine, everything on loopback; took ${report.durationSeconds} s; ` +
        `load average ${loadAtStart.join(' ')} at start, ${report.machine.loadAverageAtEnd.join(' ')} at end`,
      formatDirectLoad(figures.scenario1.chat, figures.scenario1.relay),
      `Scenario 4: the same load with every hop on TLS and texts sealed at rest, beside scenario 1's plaintext run\n${formatDirectLoad(figures.scenario4.encrypted, figures.scenario4.plaintext)}`,
      formatIdleSockets(figures.scenario2.chat, figures.scenario2.relay, IDLE_SOCKET_AIM_BYTES),
      formatGroupFanout(figures.scenario3),
      formatComparison(figures.comparison),
      Object.keys(problems).length === 0
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
