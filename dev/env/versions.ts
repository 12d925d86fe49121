import { homedir } from 'node:os';
import { join } from 'node:path';

/** Every pinned version of a server or tool the test environment runs. */
export const versions = {
  kubernetes: '1.35.8',
  etcd: '3.6.16',
  kwok: '0.8.0',
  helm: '3.22.0',
  cassandra: '5.0.9',
  /** The Debian release of the locally made images (root filesystems by debootstrap). */
  debian: 'bookworm',
  /** Node.js of the local base image: the Dockerfile's NODE_IMAGE default names the same release. */
  node: '20.20.2',
  /** The npm that Node.js 20.20.2 ships (its CHANGELOG: "upgrade npm to 10.8.2"). */
  npm: '10.8.2',
  /** Only its ServiceMonitor and PrometheusRule CRDs, for the chart tests. */
  prometheusOperator: '0.85.0',
  kind: '0.33.0',
  /** In the locally assembled kind node image: the cluster DNS and the default StorageClass. */
  coredns: '1.13.1',
  localPathProvisioner: '0.0.30',
  /** The newest cri-tools on the Go proxy; kind asks the node's containerd with it. */
  crictl: '1.34.0',
  /** kubeadm 1.35's pause image tag; the pause binary is built from the Kubernetes module. */
  pause: '3.10.1',
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
