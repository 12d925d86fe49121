/**
 * vitest global setup of the e2e project: the kind cluster (created or reused) with the
 * project's images loaded, handed to the tests (`inject('e2e')`). Deleted at the end, and
 * by a watchdog if the run dies or is interrupted. No Docker: the run fails, nothing is skipped.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import type { DockerEngine } from '../../dev/env/docker/engine.js';
import { nodeContainer } from '../../dev/env/kind/cluster.js';
import { bringUpE2eCluster, tearDownE2eCluster } from '../../dev/env/kind/e2e-cluster.js';
import type { ProjectImages } from '../../dev/env/kind/project-images.js';

export interface E2eContext {
  kubeconfig: string;
  kubectl: string;
  helm: string;
  images: ProjectImages;
  /** http://127.0.0.1:<port>, reaching the node's E2E_NODE_PORT. */
  nodePortUrl: string;
  /** The kind node's container and its Docker engine: `docker exec` there sees every pod's processes, as root. */
  kindNode: { engine: DockerEngine; container: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eContext;
  }
}

const KIND_CLI = fileURLToPath(new URL('../../dev/env/kind/cli.ts', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // For working on one story: the cluster stays for the next run (`npm run -s kind:down` removes it).
  const keep = process.env.CHATCLUSTER_E2E_KEEP_CLUSTER === '1';
  if (!keep) deleteClusterWhenGone(process.pid);
  const cluster = await bringUpE2eCluster({ images: true, operator: false, nodeImage: process.env.CHATCLUSTER_KIND_NODE_IMAGE });
  if (cluster.images === undefined) throw new Error('the project images were not loaded');
  project.provide('e2e', {
    kubeconfig: cluster.kubeconfig,
    kubectl: cluster.kubectl,
    helm: cluster.helm,
    images: cluster.images,
    nodePortUrl: `http://127.0.0.1:${cluster.nodePortOnLoopback}`,
    kindNode: { engine: cluster.engine, container: nodeContainer(cluster.name) },
  });
  return () => (keep ? Promise.resolve() : tearDownE2eCluster());
}

/** A detached shell that runs `kind:down` once this run is gone, however it ended (a no-op after a clean teardown). */
function deleteClusterWhenGone(ownerPid: number): void {
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
  const script = `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; exec "$0" "$1" down`;
  spawn('bash', ['-c', script, tsx, KIND_CLI], { detached: true, stdio: 'ignore' }).unref();
}
