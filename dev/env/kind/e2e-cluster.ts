import { dirname } from 'node:path';
import { provisionDocker, type DockerEngine } from '../docker/engine.js';
import { provisionHelm } from '../helm.js';
import { provisionKubernetes } from '../kubernetes/binaries.js';
import { freePort } from '../ports.js';
import { run } from '../process.js';
import { say, slowStep } from '../progress.js';
import { provisionKind } from './binary.js';
import { clusterExists, createCluster, deleteCluster, existingCluster, kindEnv, type KindCluster } from './cluster.js';
import { parseNodeImageChoice, provisionNodeImage } from './node-image/choose.js';
import { installOperator } from './operator.js';
import { provideProjectImages, type ProjectImages } from './project-images.js';

/** Everything a test or a shell needs to use the e2e cluster. */
export interface E2eCluster extends KindCluster {
  engine: DockerEngine;
  helm: string;
  kubectl: string;
  /** The project's images in the node, when they were asked for. */
  images: ProjectImages | undefined;
  /** Folders holding kubectl and helm, for PATH. */
  pathDirs: string[];
}

export interface E2eOptions {
  /** Build the project's images and load them into the node. */
  images: boolean;
  /** `helm install` the operator chart with them (needs `images`). */
  operator: boolean;
  /** CHATCLUSTER_KIND_NODE_IMAGE (see node-image/choose.ts). */
  nodeImage: string | undefined;
}

/**
 * Creates (or reuses) the e2e kind cluster, loads the project's images into it and
 * installs the operator chart with them. If interrupted while the cluster is being
 * made, deletes it again.
 */
export async function bringUpE2eCluster(options: E2eOptions): Promise<E2eCluster> {
  const engine = await provisionDocker();
  // One Go build at a time: they share the machine's cores.
  const kind = await provisionKind();
  const kubernetes = await provisionKubernetes();
  const helm = await provisionHelm();

  let cluster: KindCluster;
  if (await clusterExists(kind, engine)) {
    cluster = await existingCluster(kind, engine);
    const healthy = await run(kubernetes.kubectl, ['--kubeconfig', cluster.kubeconfig, 'get', '--raw', '/readyz']).then(
      () => true,
      () => false,
    );
    if (healthy) say(`reusing kind cluster ${cluster.name}`);
    else {
      say(`kind cluster ${cluster.name} exists but its API server does not answer: making it again`);
      await deleteCluster(kind, engine);
      cluster = await create(kind, engine, options);
    }
  } else {
    cluster = await create(kind, engine, options);
  }

  let images: ProjectImages | undefined;
  if (options.images || options.operator) {
    images = await provideProjectImages(engine);
    const all = [images.operator, images.node, ...images.extra];
    await slowStep(`kind load docker-image (${all.length} images)`, () =>
      run(kind, ['load', 'docker-image', '--name', cluster.name, ...all], { env: kindEnv(engine, cluster.name) }),
    );
  }
  if (options.operator && images !== undefined) await installOperator(helm, cluster.kubeconfig, images);
  return { ...cluster, engine, helm, kubectl: kubernetes.kubectl, images, pathDirs: [dirname(kubernetes.kubectl), dirname(helm), dirname(kind)] };
}

async function create(kind: string, engine: DockerEngine, options: E2eOptions): Promise<KindCluster> {
  const image = await provisionNodeImage(engine, parseNodeImageChoice(options.nodeImage));
  const hostPort = await freePort();
  return deleteIfInterrupted(kind, engine, () => createCluster(kind, engine, { image, hostPort }));
}

/**
 * Runs `work`; if SIGINT or SIGTERM comes meanwhile, deletes the cluster once `work` has
 * ended (kind, in the same process group, stops on Ctrl-C too) and exits (130 or 143).
 */
async function deleteIfInterrupted<T>(kind: string, engine: DockerEngine, work: () => Promise<T>): Promise<T> {
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted === undefined) say(`${signal}: the half-made cluster will be deleted`);
    interrupted = signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await work().catch((error: unknown) => {
      if (interrupted === undefined) throw error;
      return undefined;
    });
    if (interrupted !== undefined) {
      await deleteCluster(kind, engine);
      process.exit(interrupted === 'SIGINT' ? 130 : 143);
    }
    return result as T;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Deletes the e2e cluster and what was made for it. Ctrl-C does not cut the cleanup short:
 * this process carries on, and a step whose command the signal stopped is run again.
 */
export async function tearDownE2eCluster(): Promise<void> {
  let signals = 0;
  const carryOn = (): void => {
    signals += 1;
    say('finishing the cleanup first');
  };
  process.on('SIGINT', carryOn);
  process.on('SIGTERM', carryOn);
  try {
    const engine = await provisionDocker();
    const kind = await provisionKind();
    for (let attempt = 1; ; attempt += 1) {
      const signalsBefore = signals;
      try {
        await deleteCluster(kind, engine);
        return;
      } catch (error) {
        if (signals === signalsBefore || attempt >= 3) throw error;
      }
    }
  } finally {
    process.off('SIGINT', carryOn);
    process.off('SIGTERM', carryOn);
  }
}
