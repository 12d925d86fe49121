import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../dev/env/ports.js';
import { beforeEach, onTestFailed } from 'vitest';
import { killWhenOwnerExits } from '../../dev/env/process.js';
import type { OperatorAccess } from './operator-access.js';

const OPERATOR_MAIN = fileURLToPath(new URL('../../operator/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Lines of output kept per process, for failure messages. */
const KEPT_LINES = 2000;

export interface OperatorOptions {
  /** A kubeconfig file (the operator's ServiceAccount). */
  kubeconfig: string;
  /** OPERATOR_NAMESPACE: where its leader-election Lease lives. */
  leaseNamespace: string;
  /** WATCH_NAMESPACE: the only namespace whose ChatClusters it manages (unset: every namespace). */
  watchNamespace?: string;
  /** POD_NAME: its identity in the Lease. */
  identity: string;
  /** More of its environment (e.g. what the chart's Deployment sets); HEALTH_PORT is always a free port. */
  env?: Record<string, string>;
}

/** One operator process, as it runs in its pod: `node --import tsx operator/main.ts`. */
export interface OperatorProcess {
  readonly identity: string;
  /** http://127.0.0.1:<HEALTH_PORT> */
  readonly healthUrl: string;
  readonly child: ChildProcess;
  /** What it logged at warn level or above. */
  warnings(): string[];
  /** Its last lines of output (pino JSON). */
  tail(lines?: number): string;
  /** Its /metrics, parsed. */
  metrics(): Promise<MetricSample[]>;
  /** Sends `signal` and resolves once it exited (SIGKILL after 15 s if it did not). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: boolean;
}

const running = new Set<OperatorProcess>();

/** Every operator process started by this test file that has not exited. */
export function runningOperators(): OperatorProcess[] {
  return [...running];
}

/** Stops every operator process still running (afterAll, failures included). */
export async function stopAllOperators(): Promise<void> {
  await Promise.all([...running].map((operator) => operator.stop('SIGTERM')));
}

/** Prints each running operator's last output when a test of the calling `describe` fails. */
export function printOperatorOutputOnFailure(): void {
  beforeEach(() => {
    onTestFailed(() => {
      for (const operator of runningOperators()) console.error(operator.tail());
    });
  });
}

/** What an operator test file made and must remove, whatever failed. */
export interface OperatorTestLeftovers {
  access: OperatorAccess | undefined;
  /** Deleted with all they hold; the CRD stays (other test files of the run share it). */
  namespaces: readonly { delete(): Promise<void> }[];
  dir: string | undefined;
}

/** For afterAll: no operator outlives the file, and nothing it made is left behind. */
export async function cleanUpOperatorTest({ access, namespaces, dir }: OperatorTestLeftovers): Promise<void> {
  await stopAllOperators();
  await access?.revoke();
  await Promise.all(namespaces.map((namespace) => namespace.delete().catch(() => undefined)));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

/** Starts the operator and resolves once its /healthz answers. */
export async function startOperator(options: OperatorOptions): Promise<OperatorProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', OPERATOR_MAIN], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KUBECONFIG: options.kubeconfig,
      OPERATOR_NAMESPACE: options.leaseNamespace,
      ...(options.watchNamespace === undefined ? {} : { WATCH_NAMESPACE: options.watchNamespace }),
      LOG_LEVEL: 'info',
      ...options.env,
      POD_NAME: options.identity,
      HEALTH_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) killWhenOwnerExits(child.pid);
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(...chunk.toString().split('\n').filter((line) => line !== ''));
    if (output.length > KEPT_LINES) output.splice(0, output.length - KEPT_LINES);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exit = once(child, 'exit');
  const healthUrl = `http://127.0.0.1:${port}`;
  const isExited = (): boolean => child.exitCode !== null || child.signalCode !== null;

  const operator: OperatorProcess = {
    identity: options.identity,
    healthUrl,
    child,
    warnings: () => output.filter((line) => /"level":(4|5|6)\d/.test(line)),
    tail: (lines = 60) => `--- operator ${options.identity} (last ${lines} lines) ---\n${output.slice(-lines).join('\n')}`,
    async metrics() {
      const response = await fetch(`${healthUrl}/metrics`);
      if (!response.ok) throw new Error(`operator ${options.identity} /metrics: HTTP ${response.status}`);
      return parseMetrics(await response.text());
    },
    async stop(signal = 'SIGTERM') {
      if (!isExited()) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exit;
        clearTimeout(timer);
      }
      running.delete(operator);
    },
    get exited() {
      return isExited();
    },
  };
  running.add(operator);
  void exit.then(() => running.delete(operator));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (isExited()) throw new Error(`operator ${options.identity} exited while starting\n${operator.tail()}`);
    if (await fetch(`${healthUrl}/healthz`).then((response) => response.ok, () => false)) return operator;
    if (Date.now() > deadline) {
      await operator.stop('SIGKILL');
      throw new Error(`operator ${options.identity} did not answer /healthz within 30 s\n${operator.tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One sample of the Prometheus text format. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (what prom-client writes). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] ?? ''] = label[2] ?? '';
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric over all its label sets (0 when it has no samples). */
export function sumOf(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}
