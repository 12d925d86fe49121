import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { installOperator, OPERATOR_NAMESPACE, OPERATOR_RELEASE } from '../env/kind/operator.js';
import { run } from '../env/process.js';

const e2e = inject('e2e');
const NAMESPACE = 'chat-e2e';
const scratch = mkdtempSync(join(tmpdir(), 'chatcluster-e2e-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function kubectl(...args: string[]): Promise<string> {
  return run(e2e.kubectl, ['--kubeconfig', e2e.kubeconfig, ...args]);
}

/** `kubectl apply` of a manifest as a user would type it. */
async function apply(manifest: string): Promise<void> {
  const file = join(scratch, `manifest-${String(Date.now())}.yaml`);
  writeFileSync(file, manifest);
  await kubectl('apply', '-f', file);
}

/**
 * A ChatCluster of a few lines, sized for a 2-core CI machine: one Cassandra replica with
 * replication factor 1 and a 2 GiB limit (the operator gives it a 1 GiB heap), and the
 * autoscaler's floor of two chat nodes.
 */
const SMALL_CHATCLUSTER = `apiVersion: chatcluster.dev/v1alpha1
kind: ChatCluster
metadata: { name: chat, namespace: ${NAMESPACE} }
spec:
  cassandra: { managed: { replicas: 1, replicationFactor: 1, storage: 1Gi, resources: { limits: { memory: 2Gi } } } }
  autoscaling: { minReplicas: 2 }
`;

describe('a ChatCluster on a kind cluster', () => {
  it('helm install brings the operator up with the project\'s image', async () => {
    await installOperator(e2e.helm, e2e.kubeconfig, e2e.images);
    const image = await kubectl('-n', OPERATOR_NAMESPACE, 'get', 'deployment', '-l', `app.kubernetes.io/instance=${OPERATOR_RELEASE}`, '-o', 'jsonpath={.items[0].spec.template.spec.containers[0].image}');
    expect(image).toBe(e2e.images.operator);
  }, 600_000);

  it('a ChatCluster of a few lines reaches Ready: schema Job done, Redis, Cassandra and two chat nodes ready', async () => {
    const started = Date.now();
    await kubectl('create', 'namespace', NAMESPACE).catch(() => undefined);
    await apply(SMALL_CHATCLUSTER);
    await kubectl('-n', NAMESPACE, 'wait', 'chatcluster/chat', '--for=jsonpath={.status.phase}=Ready', '--timeout=20m');
    process.stderr.write(`[e2e] ChatCluster Ready after ${Math.round((Date.now() - started) / 1000)}s\n`);

    const jobs = await kubectl('-n', NAMESPACE, 'get', 'jobs', '-o', 'jsonpath={range .items[*]}{.status.succeeded}{"\\n"}{end}');
    expect(jobs.split('\n').filter(Boolean)).toContain('1');
    const ready = await kubectl('-n', NAMESPACE, 'get', 'pods', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.containerStatuses[0].ready}{"\\n"}{end}');
    const readyPods = ready.split('\n').filter((line) => line.endsWith('=true')).map((line) => line.slice(0, -'=true'.length));
    expect(readyPods.some((name) => name.includes('redis'))).toBe(true);
    expect(readyPods.some((name) => name.includes('cassandra'))).toBe(true);
    expect(readyPods.filter((name) => !/redis|cassandra|schema|migrat/.test(name)).length).toBeGreaterThanOrEqual(2);
    expect(await kubectl('-n', NAMESPACE, 'get', 'chat')).toMatch(/^chat\s.*Ready/m);
    const heap = await kubectl('-n', NAMESPACE, 'get', 'statefulsets', '-o', 'jsonpath={.items[*].spec.template.spec.containers[*].env[?(@.name=="MAX_HEAP_SIZE")].value}');
    expect(heap.trim()).toBe('1024M');
  }, 1_500_000);
});
