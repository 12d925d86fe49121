import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { z } from 'zod';
import { Launcher } from '../../dev/env/launcher.js';
import { freePort } from '../../dev/env/ports.js';
import { removeWhenOwnerExits } from '../../dev/env/process.js';
import { startPrometheus as startPrometheusServer, type PrometheusTools } from '../../dev/env/prometheus.js';

const ProvidedTools = z.object({ PROMETHEUS_BIN: z.string().min(1), PROMTOOL_BIN: z.string().min(1) });

/**
 * prometheus and promtool as the global setup's `prometheus` part found them. Throws,
 * failing the test, when the part was not provided: a missing server is never a skip.
 */
export function prometheusTools(): PrometheusTools {
  const variables = ProvidedTools.parse(inject('testEnv').variables);
  return { prometheus: variables.PROMETHEUS_BIN, promtool: variables.PROMTOOL_BIN };
}

/** One `scrape_configs` entry, static targets only (what the tests know: loopback addresses). */
export interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
  honor_labels?: boolean;
  metrics_path?: string;
}

export interface PrometheusOptions {
  scrapeConfigs: ScrapeConfig[];
  /** Also scrape the server itself, as job `prometheus`. */
  scrapeItself?: boolean;
  /** Rule files to load (absolute paths). */
  ruleFiles?: string[];
  /** Global scrape interval (and timeout); 1s keeps tests quick. */
  scrapeInterval?: string;
  /** Global rule evaluation interval; 1s by default. */
  evaluationInterval?: string;
}

/** What the HTTP API answers: `data` on success, `errorType` and `error` otherwise. */
export type ApiResponse<Data> =
  | { status: 'success'; data: Data; warnings?: string[] }
  | { status: 'error'; errorType: string; error: string; warnings?: string[] };

export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The `data` of `/api/v1/query`. */
export type QueryData =
  | { resultType: 'vector'; result: InstantSample[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, string][] }[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

export interface ActiveTarget {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: {
    name: string;
    query: string;
    type: 'alerting' | 'recording';
    health: 'ok' | 'err' | 'unknown';
    lastError?: string;
    lastEvaluation: string;
    state?: 'inactive' | 'pending' | 'firing';
  }[];
}

/** A Prometheus server of one test file, on a free loopback port. */
export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The generated prometheus.yml. */
  readonly configFile: string;
  readonly pid: number;
  /** An HTTP API call (`/api/v1/...`); its answer whatever the HTTP status. */
  api<Data>(path: string, params?: Record<string, string | string[]>): Promise<ApiResponse<Data>>;
  /** An instant query at the current time. */
  query(expr: string): Promise<ApiResponse<QueryData>>;
  /** The active scrape targets. */
  targets(): Promise<ActiveTarget[]>;
  /** The loaded rule groups with their last evaluation. */
  ruleGroups(): Promise<RuleGroup[]>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** The prometheus.yml for `options`, with the server's own address for self-scraping. */
export function prometheusConfig(options: PrometheusOptions, selfAddress: string): Record<string, unknown> {
  const scrapeInterval = options.scrapeInterval ?? '1s';
  const self: ScrapeConfig = { job_name: 'prometheus', static_configs: [{ targets: [selfAddress] }] };
  return {
    global: { scrape_interval: scrapeInterval, scrape_timeout: scrapeInterval, evaluation_interval: options.evaluationInterval ?? '1s' },
    ...(options.ruleFiles === undefined ? {} : { rule_files: options.ruleFiles }),
    scrape_configs: [...(options.scrapeItself === true ? [self] : []), ...options.scrapeConfigs],
  };
}

/**
 * Starts Prometheus with a configuration of the test's own in a temporary folder and waits
 * for `/-/ready`. A watchdog stops it (and removes the folder) if the test worker dies
 * before `stop`.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const tools = prometheusTools();
  const dir = mkdtempSync(join(tmpdir(), 'chatcluster-prometheus-'));
  removeWhenOwnerExits(process.pid, dir);
  const launcher = new Launcher(dir, { ownerPid: process.pid });
  const port = await freePort();
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(prometheusConfig(options, `127.0.0.1:${port}`)));
  let url: string;
  try {
    url = await startPrometheusServer(tools, launcher, configFile, port);
  } catch (error) {
    await launcher.stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const api = async <Data>(path: string, params: Record<string, string | string[]> = {}): Promise<ApiResponse<Data>> => {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) for (const one of [value].flat()) form.append(name, one);
    // Queries go as a form (no URL length limit); the other endpoints answer GET only.
    const response = path === '/api/v1/query' ? await fetch(`${url}${path}`, { method: 'POST', body: form }) : await fetch(`${url}${path}?${form.toString()}`);
    const text = await response.text();
    try {
      return JSON.parse(text) as ApiResponse<Data>;
    } catch {
      return { status: 'error', errorType: `HTTP ${response.status}`, error: text };
    }
  };
  const successful = async <Data>(path: string): Promise<Data> => {
    const answer = await api<Data>(path);
    if (answer.status !== 'success') throw new Error(`${path}: ${answer.errorType}: ${answer.error}`);
    return answer.data;
  };

  return {
    url,
    configFile,
    pid: launcher.process('prometheus').pid,
    api,
    query: (expr) => api<QueryData>('/api/v1/query', { query: expr }),
    targets: async () => (await successful<{ activeTargets: ActiveTarget[] }>('/api/v1/targets')).activeTargets,
    ruleGroups: async () => (await successful<{ groups: RuleGroup[] }>('/api/v1/rules')).groups,
    async stop() {
      await launcher.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs promtool with `args`; resolves with its exit code and output, never rejects on a non-zero exit. */
export function promtool(args: readonly string[], cwd?: string): Promise<{ code: number; output: string }> {
  const { promtool: command } = prometheusTools();
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error === null) {
        resolve({ code: 0, output });
        return;
      }
      if (typeof error.code === 'number') {
        resolve({ code: error.code, output });
        return;
      }
      reject(new Error(`cannot run ${command} ${args.join(' ')}: ${error.message}\n${output}`));
    });
  });
}

/** The samples of a successful instant query's vector, or an error naming the query and what came back. */
export function vectorOf(expr: string, answer: ApiResponse<QueryData>): InstantSample[] {
  if (answer.status !== 'success') throw new Error(`${expr}: ${answer.errorType}: ${answer.error}`);
  if (answer.data.resultType !== 'vector') throw new Error(`${expr}: a ${answer.data.resultType}, not an instant vector`);
  return answer.data.result;
}
