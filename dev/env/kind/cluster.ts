import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerEnv, type DockerEngine } from '../docker/engine.js';
import { run } from '../process.js';
import { say, slowStep } from '../progress.js';
import type { NodeImage } from './node-image/choose.js';

/** The e2e suite's cluster; its Docker network carries the same name, so `down` removes exactly it. */
/**
 * The e2e cluster's name; CHATCLUSTER_KIND_CLUSTER gives another, so two checkouts sharing
 * one Docker engine do not reuse (and tear down) each other's cluster.
 */
export const CLUSTER_NAME = process.env.CHATCLUSTER_KIND_CLUSTER ?? 'chatcluster-e2e';
/** A NodePort the tests reach on 127.0.0.1 (the host port is chosen free at creation). */
export const E2E_NODE_PORT = 30080;
/** Every container the kind part makes carries this label, so `down` finds them after a crash too. */
export const TEST_ENV_LABEL = 'chatcluster.dev/test-env=kind';

/** What the tests need of a running cluster. */
export interface KindCluster {
  name: string;
  kubeconfig: string;
  /** The host port on 127.0.0.1 that reaches E2E_NODE_PORT on the node. */
  nodePortOnLoopback: number;
}

/** The cluster's folder: its kubeconfig and kind config, outside the work tree. */
export function clusterDir(name = CLUSTER_NAME): string {
  return join(tmpdir(), 'chatcluster-kind', name);
}

/**
 * kind's cluster config: one node, API server and node port on 127.0.0.1 only. With the
 * locally assembled image there is no kindnetd, so its default CNI is off and the image's
 * static CNI config serves the one node (KIND.md).
 */
export function kindConfig(options: { image: NodeImage; hostPort: number }): string {
  const lines = [
    'kind: Cluster',
    'apiVersion: kind.x-k8s.io/v1alpha4',
    'networking:',
    '  apiServerAddress: 127.0.0.1',
    ...(options.image.local ? ['  disableDefaultCNI: true'] : []),
    'nodes:',
    '  - role: control-plane',
    `    image: ${options.image.image}`,
    '    extraPortMappings:',
    `      - containerPort: ${E2E_NODE_PORT}`,
    `        hostPort: ${options.hostPort}`,
    '        listenAddress: 127.0.0.1',
    '        protocol: TCP',
    // kubelet 1.35 refuses cgroup v1 hosts unless told otherwise; harmless on cgroup v2.
    'kubeadmConfigPatches:',
    '  - |',
    '    kind: KubeletConfiguration',
    '    failCgroupV1: false',
  ];
  return `${lines.join('\n')}\n`;
}

/** kind's environment: our engine, and a Docker network of the cluster's own. */
export function kindEnv(engine: DockerEngine, name = CLUSTER_NAME): NodeJS.ProcessEnv {
  return { ...dockerEnv(engine), KIND_EXPERIMENTAL_DOCKER_NETWORK: name };
}

export async function clusterExists(kind: string, engine: DockerEngine, name = CLUSTER_NAME): Promise<boolean> {
  const clusters = await run(kind, ['get', 'clusters'], { env: kindEnv(engine, name) });
  return clusters.split('\n').includes(name);
}

/** Creates the cluster and writes its kubeconfig; a half-made cluster is deleted before the error is thrown. */
export async function createCluster(
  kind: string,
  engine: DockerEngine,
  options: { image: NodeImage; hostPort: number; name?: string },
): Promise<KindCluster> {
  const name = options.name ?? CLUSTER_NAME;
  const dir = clusterDir(name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'kind-config.yaml');
  writeFileSync(config, kindConfig(options));
  const kubeconfig = join(dir, 'kubeconfig');
  let lastLine = '';
  try {
    await slowStep(
      `kind create cluster ${name} (${options.image.image})`,
      () =>
        run(kind, ['create', 'cluster', '--name', name, '--image', options.image.image, '--config', config, '--kubeconfig', kubeconfig, '--wait', '5m'], {
          env: kindEnv(engine, name),
          onLine: (line) => {
            if (line.trim() !== '') lastLine = line.trim();
          },
        }),
      () => lastLine || undefined,
    );
  } catch (error) {
    say(`kind create cluster failed; deleting what it made`);
    await deleteCluster(kind, engine, name);
    throw error;
  }
  return { name, kubeconfig, nodePortOnLoopback: options.hostPort };
}

/** The Docker container of the cluster's one node (kind names it after the cluster). */
export function nodeContainer(name = CLUSTER_NAME): string {
  return `${name}-control-plane`;
}

/** The kubeconfig of an existing cluster, written to its folder again. */
export async function existingCluster(kind: string, engine: DockerEngine, name = CLUSTER_NAME): Promise<KindCluster> {
  const dir = clusterDir(name);
  mkdirSync(dir, { recursive: true });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, await run(kind, ['get', 'kubeconfig', '--name', name], { env: kindEnv(engine, name) }), { mode: 0o600 });
  const port = await docker(engine, ['port', nodeContainer(name), `${E2E_NODE_PORT}/tcp`]);
  const hostPort = Number(/:(\d+)\s*$/m.exec(port)?.[1]);
  return { name, kubeconfig, nodePortOnLoopback: hostPort };
}

/**
 * Deletes the cluster and everything made for it: its node containers with their
 * volumes (kind removes them with -v), leftover containers of this part (by label), and
 * the cluster's Docker network. Safe to repeat.
 */
export async function deleteCluster(kind: string, engine: DockerEngine, name = CLUSTER_NAME): Promise<void> {
  await slowStep(`kind delete cluster ${name}`, async () => {
    // Every step is tried, so what one failure left behind the next run of `down` still finds.
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>): Promise<void> => {
      await step().catch((error: unknown) => failures.push(error));
    };
    await attempt(() => run(kind, ['delete', 'cluster', '--name', name], { env: kindEnv(engine, name) }));
    await attempt(async () => {
      const leftovers = (await docker(engine, ['ps', '-aq', '--filter', `label=${TEST_ENV_LABEL}`])).split('\n').filter(Boolean);
      if (leftovers.length > 0) await docker(engine, ['rm', '-f', '-v', ...leftovers]);
    });
    await attempt(async () => {
      const networks = (await docker(engine, ['network', 'ls', '-q', '--filter', `name=^${name}$`])).split('\n').filter(Boolean);
      if (networks.length > 0) await docker(engine, ['network', 'rm', ...networks]);
    });
    if (failures.length > 0) throw failures[0];
    // Its kubeconfig and kind config go last: kept while a failed step may leave the cluster reachable with them.
    rmSync(clusterDir(name), { recursive: true, force: true });
  });
}
