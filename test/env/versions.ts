import { homedir } from 'node:os';
import { join } from 'node:path';

/** Every pinned version of a server or tool the test environment runs. */
export const versions = {
  kubernetes: '1.35.8',
  etcd: '3.6.16',
  kwok: '0.8.0',
  helm: '3.22.0',
  cassandra: '5.0.9',
  /** Only its ServiceMonitor and PrometheusRule CRDs, for the chart tests. */
  prometheusOperator: '0.85.0',
} as const;

/**
 * Where builds and downloads are kept between runs, one folder per name and version.
 * `CHATCLUSTER_CACHE` moves it (e.g. to a CI cache volume).
 */
export function cacheRoot(): string {
  return process.env.CHATCLUSTER_CACHE ?? join(homedir(), '.cache', 'chatcluster');
}

/** The cache folder of one pinned piece, e.g. `~/.cache/chatcluster/etcd-v3.6.16`. */
export function cacheDir(name: string, version: string): string {
  return join(cacheRoot(), `${name}-v${version}`);
}
