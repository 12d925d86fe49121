import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from '../cache.js';
import { goBuild } from '../gobuild.js';
import { provisionMonitoringCrds } from '../prometheus-operator-crds.js';
import { cacheDir, versions } from '../versions.js';

const GO_MODULES = fileURLToPath(new URL('../go/', import.meta.url));

/** Paths of every binary the Kubernetes part of the environment runs. */
export interface KubernetesBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  /** The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs (a folder), installed in every cluster. */
  monitoringCrds: string;
}

const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;
type ControlPlaneBinary = (typeof CONTROL_PLANE)[number];

/**
 * Builds (once, cached by version) or finds every Kubernetes binary. Binaries found in
 * `KUBEBUILDER_ASSETS` (setup-envtest ships etcd, kube-apiserver and kubectl) are used
 * as they are; only the rest are built.
 */
export async function provisionKubernetes(): Promise<KubernetesBinaries> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  const fromAssets = (name: string): string | undefined => {
    if (assets === undefined || assets === '') return undefined;
    const path = join(assets, name);
    return existsSync(path) ? path : undefined;
  };

  const missing = CONTROL_PLANE.filter((name) => fromAssets(name) === undefined);
  const built = missing.length === 0 ? new Map<ControlPlaneBinary, string>() : await buildControlPlane(missing);
  const controlPlane = (name: ControlPlaneBinary): string => {
    const path = fromAssets(name) ?? built.get(name);
    if (path === undefined) throw new Error(`no ${name} after provisioning`);
    return path;
  };

  const [etcd, kwok, monitoringCrds] = await Promise.all([fromAssets('etcd') ?? buildEtcd(), buildKwok(), provisionMonitoringCrds()]);
  return {
    etcd,
    kubeApiserver: controlPlane('kube-apiserver'),
    kubeControllerManager: controlPlane('kube-controller-manager'),
    kubeScheduler: controlPlane('kube-scheduler'),
    kubectl: controlPlane('kubectl'),
    kwok,
    monitoringCrds,
  };
}

async function buildControlPlane(names: readonly ControlPlaneBinary[]): Promise<Map<ControlPlaneBinary, string>> {
  const version = versions.kubernetes;
  // Building a subset (some came from KUBEBUILDER_ASSETS) gets a cache folder of its own.
  const all = names.length === CONTROL_PLANE.length;
  const dir = all ? cacheDir('kubernetes', version) : `${cacheDir('kubernetes', version)}-${names.join('+')}`;
  await buildKubernetesCommands(names, dir);
  return new Map(names.map((name) => [name, join(dir, 'bin', name)]));
}

/** What a kind node runs besides the control plane: kubeadm sets it up, kubelet and kube-proxy run on it. */
const NODE = ['kubeadm', 'kubelet', 'kube-proxy'] as const;
type NodeBinary = (typeof NODE)[number];

/**
 * Builds (once, cached by version) the node binaries of a kind node image. Same module,
 * flags and Go build cache as the control plane, so only what they add is compiled.
 */
export async function provisionKubernetesNode(): Promise<Record<NodeBinary, string>> {
  const dir = cacheDir('kubernetes-node', versions.kubernetes);
  await buildKubernetesCommands(NODE, dir);
  return { kubeadm: join(dir, 'bin', 'kubeadm'), kubelet: join(dir, 'bin', 'kubelet'), 'kube-proxy': join(dir, 'bin', 'kube-proxy') };
}

async function buildKubernetesCommands(names: readonly string[], dir: string): Promise<void> {
  const version = versions.kubernetes;
  const [major, minor] = version.split('.');
  // The version the binaries report (`/version`, `kubectl version`) is stamped at link time.
  const ldflags = [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=v${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major ?? ''}`,
    `-X k8s.io/component-base/version.gitMinor=${minor ?? ''}`,
    '-X k8s.io/component-base/version.gitTreeState=clean',
  ].join(' ');
  await cached(dir, (staging) =>
    goBuild({
      what: `Kubernetes v${version} (${names.join(', ')})`,
      moduleDir: join(GO_MODULES, 'kubernetes'),
      packages: names.map((name) => `k8s.io/kubernetes/cmd/${name}`),
      outDir: join(staging, 'bin'),
      ldflags,
    }),
  );
}

async function buildEtcd(): Promise<string> {
  const dir = await cached(cacheDir('etcd', versions.etcd), (staging) =>
    goBuild({
      what: `etcd v${versions.etcd}`,
      moduleDir: join(GO_MODULES, 'etcd'),
      packages: ['.'],
      outDir: join(staging, 'bin'),
      ldflags: '-s -w',
    }),
  );
  return join(dir, 'bin', 'etcd');
}

async function buildKwok(): Promise<string> {
  const dir = await cached(cacheDir('kwok', versions.kwok), (staging) =>
    goBuild({
      what: `kwok v${versions.kwok}`,
      moduleDir: join(GO_MODULES, 'kwok'),
      packages: ['sigs.k8s.io/kwok/cmd/kwok'],
      outDir: join(staging, 'bin'),
      ldflags: '-s -w',
    }),
  );
  return join(dir, 'bin', 'kwok');
}
