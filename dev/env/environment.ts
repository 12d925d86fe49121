import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CASSANDRA_DATACENTER, DEFAULT_CASSANDRA_LOGIN, provisionCassandra, startCassandra } from './cassandra.js';
import { makeTestCertificates } from './certificates.js';
import { provisionChromium } from './chromium.js';
import { EnvError } from './errors.js';
import { provisionFaketime } from './faketime.js';
import { provisionHelm } from './helm.js';
import { provisionKubernetes } from './kubernetes/binaries.js';
import { startKubernetes } from './kubernetes/cluster.js';
import { Launcher } from './launcher.js';
import { isAlive, stopServer, type ServerProcess } from './process.js';
import { prometheusPathDirs, provisionPrometheus } from './prometheus.js';
import { slowStep } from './progress.js';
import { startClusterRedis } from './redis-cluster.js';
import { startSentinelRedis } from './redis-sentinel.js';
import { provisionRedis, startRedis, startTlsRedis, startTlsSentinel } from './redis.js';

/** What a started part tells its users: environment variables and folders for PATH. */
export interface PartExports {
  variables: Record<string, string>;
  pathDirs: string[];
}

/** One part of the environment: made available once (cached), started per run. */
interface Part<Provisioned> {
  provision(): Promise<Provisioned>;
  start(provisioned: Provisioned, launcher: Launcher): Promise<PartExports>;
}

/** Erases a part's own provisioned type, which only its own `start` sees. */
function part<Provisioned>(definition: Part<Provisioned>): Part<unknown> {
  return {
    provision: () => definition.provision(),
    start: (provisioned, launcher) => definition.start(provisioned as Provisioned, launcher),
  };
}

/** Every part, by the name `env:up` takes. Adding a server is one entry here. */
const PARTS = {
  redis: part({
    provision: provisionRedis,
    start: async (redisServer, launcher) => ({
      variables: { CHAT_REDIS_URL: await startRedis(redisServer, launcher) },
      pathDirs: [],
    }),
  }),
  // Redis with failover: a primary, two replicas and three sentinels.
  'redis-sentinel': part({
    provision: provisionRedis,
    start: async (redisServer, launcher) => ({
      variables: { CHAT_REDIS_SENTINEL_URL: (await startSentinelRedis(redisServer, launcher)).url },
      pathDirs: [],
    }),
  }),
  // Redis scaled out: three masters, each with a replica.
  'redis-cluster': part({
    provision: provisionRedis,
    start: async (redisServer, launcher) => ({
      variables: { CHAT_REDIS_CLUSTER_URL: (await startClusterRedis(redisServer, launcher)).url },
      pathDirs: [],
    }),
  }),
  cassandra: part({
    provision: provisionCassandra,
    start: async (install, launcher) => ({
      variables: {
        CHAT_CASSANDRA_CONTACT_POINTS: await startCassandra(install, launcher),
        CHAT_CASSANDRA_DC: CASSANDRA_DATACENTER,
      },
      pathDirs: [],
    }),
  }),
  // Every hop over TLS: a CA and a certificate of this run's own, a Redis and a Cassandra
  // that refuse plaintext clients (the Cassandra also a client that does not log in, as a
  // managed one would), and the files a node serves wss:// from.
  tls: part({
    provision: async () => ({ redisServer: await provisionRedis(), cassandra: await provisionCassandra() }),
    start: async ({ redisServer, cassandra }, launcher) => {
      const certs = await makeTestCertificates(launcher.path('certificates'));
      const [redisUrl, contactPoints] = await Promise.all([startTlsRedis(redisServer, launcher, certs), startCassandra(cassandra, launcher, { clientTls: certs, login: DEFAULT_CASSANDRA_LOGIN })]);
      const sentinelUrl = await startTlsSentinel(redisServer, launcher, certs, Number(new URL(redisUrl).port));
      return {
        variables: {
          CHAT_TEST_CA_FILE: certs.caFile,
          CHAT_TEST_CERT_FILE: certs.certFile,
          CHAT_TEST_KEY_FILE: certs.keyFile,
          CHAT_REDIS_TLS_URL: redisUrl,
          CHAT_REDIS_SENTINEL_TLS_URL: sentinelUrl,
          CHAT_CASSANDRA_TLS_CONTACT_POINTS: contactPoints,
          CHAT_CASSANDRA_TLS_USERNAME: DEFAULT_CASSANDRA_LOGIN.username,
          CHAT_CASSANDRA_TLS_PASSWORD: DEFAULT_CASSANDRA_LOGIN.password,
        },
        pathDirs: [],
      };
    },
  }),
  k8s: part({
    provision: provisionKubernetes,
    start: async (binaries, launcher) => {
      const cluster = await startKubernetes(binaries, launcher);
      return { variables: { KUBECONFIG: cluster.kubeconfig }, pathDirs: [cluster.kubectlDir] };
    },
  }),
  // Only makes libfaketime available: a test preloads it into the one node whose clock it shifts.
  faketime: part({
    provision: provisionFaketime,
    start: (library) => Promise.resolve({ variables: { FAKETIME_LIBRARY: library }, pathDirs: [] }),
  }),
  // Only makes Chromium available: each browser test launches its own.
  chromium: part({
    provision: provisionChromium,
    start: (chromium) => Promise.resolve({ variables: { CHROMIUM_BIN: chromium }, pathDirs: [] }),
  }),
  helm: part({
    provision: provisionHelm,
    start: (helm) => Promise.resolve({ variables: {}, pathDirs: [dirname(helm)] }),
  }),
  // Each test starts its own Prometheus (its scrape targets are the test's): the part only
  // makes prometheus and promtool available.
  prometheus: part({
    provision: provisionPrometheus,
    start: (tools) =>
      Promise.resolve({
        variables: { PROMETHEUS_BIN: tools.prometheus, PROMTOOL_BIN: tools.promtool },
        pathDirs: prometheusPathDirs(tools),
      }),
  }),
} as const;

export type PartName = keyof typeof PARTS;
export const PART_NAMES = Object.keys(PARTS) as PartName[];

export function parsePartNames(names: readonly string[]): PartName[] {
  if (names.length === 0) return PART_NAMES;
  const unknown = names.filter((name) => !(name in PARTS));
  if (unknown.length > 0) {
    throw new EnvError(`unknown part ${unknown.join(', ')}`, `choose from: ${PART_NAMES.join(', ')}`);
  }
  return [...new Set(names as PartName[])];
}

/** A started part: its processes (to stop) and its exports. */
export interface RunningPart extends PartExports {
  processes: ServerProcess[];
}

/** The running environment, kept in `<dir>/state.json` so a later command finds it. */
export interface EnvironmentState {
  dir: string;
  parts: Partial<Record<PartName, RunningPart>>;
}

/** Builds or fetches everything the named parts need, in parallel, cached. */
export async function provision(names: readonly PartName[]): Promise<void> {
  await slowStep(`provisioning ${names.join(', ')}`, () => Promise.all(names.map((name) => PARTS[name].provision())));
}

export interface StartOptions {
  /** Stop what is started when this process exits ... */
  ownerPid?: number;
  /** ... unless this file exists by then (`env:up` writes it once all is up). */
  keepFile?: string;
  /** Parts already running, reused when all their processes are alive. */
  previous?: EnvironmentState;
}

/**
 * Starts the named parts in parallel under `dir`. If any part fails, every part this call
 * started is stopped again before the error is thrown.
 */
export async function startParts(names: readonly PartName[], dir: string, options: StartOptions = {}): Promise<EnvironmentState> {
  mkdirSync(dir, { recursive: true });
  const state: EnvironmentState = { dir, parts: { ...options.previous?.parts } };
  const launchers: Launcher[] = [];
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const previous = state.parts[name];
      if (previous !== undefined && previous.processes.every((server) => isAlive(server.pid))) return;
      if (previous !== undefined) await stopProcesses(previous.processes);
      const partDir = join(dir, name);
      rmSync(partDir, { recursive: true, force: true });
      const launcher = new Launcher(partDir, { ownerPid: options.ownerPid, keepFile: options.keepFile });
      launchers.push(launcher);
      const provisioned = await PARTS[name].provision();
      const exports = await slowStep(`starting ${name}`, () => PARTS[name].start(provisioned, launcher));
      state.parts[name] = { ...exports, processes: [...launcher.started] };
    }),
  );
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length > 0) {
    await Promise.all(launchers.map((launcher) => launcher.stopAll()));
    throw failures[0];
  }
  return state;
}

/** Stops every process of the environment and removes its folder. */
export async function stopEnvironment(state: EnvironmentState): Promise<void> {
  await Promise.all(Object.values(state.parts).map((running) => stopProcesses(running.processes)));
  rmSync(state.dir, { recursive: true, force: true });
}

async function stopProcesses(processes: readonly ServerProcess[]): Promise<void> {
  // Newest first: a control plane stops its controllers before its API server and etcd.
  for (const server of [...processes].reverse()) await stopServer(server.pid);
}

/** Every exported variable of the running parts, with PATH additions merged into one list. */
export function exportsOf(state: EnvironmentState): PartExports {
  const running = Object.values(state.parts);
  return {
    variables: Object.assign({}, ...running.map((part) => part.variables)) as Record<string, string>,
    pathDirs: [...new Set(running.flatMap((part) => part.pathDirs))],
  };
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Lines a shell can eval: `eval "$(npm run -s env:up)"`. */
export function exportLines(exports: PartExports): string {
  const lines = Object.entries(exports.variables).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  if (exports.pathDirs.length > 0) lines.push(`export PATH=${shellQuote(exports.pathDirs.join(':'))}:"$PATH"`);
  return lines.join('\n');
}

const STATE_FILE = 'state.json';

export function saveState(state: EnvironmentState): void {
  writeFileSync(join(state.dir, STATE_FILE), JSON.stringify(state, null, 2));
}

export function loadState(dir: string): EnvironmentState | undefined {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as EnvironmentState;
}
