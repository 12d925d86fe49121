/**
 * The operator against the real control plane (kube-apiserver, controller-manager,
 * scheduler, kwok nodes): run as a child process with a ServiceAccount that holds exactly
 * the chart's RBAC rules, it turns ChatClusters into their objects, follows spec changes,
 * survives being killed, hands leadership over, and leaves the API server alone once
 * everything is Ready. Each operator watches a namespace of this file's own and keeps its
 * Lease in another, so operators of other test files never meet these ones.
 *
 * The tests of the first group are one story, in order: the clusters the early tests make
 * are the ones the operator is killed among and the ones it then leaves alone.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  type V1ConfigMap,
  type V1Deployment,
  type V1Job,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RELEASED_NODE_IMAGE } from '../../operator/config.js';
import { testEnvironment } from '../support/env.js';
import { adminKubeConfig, createTestNamespace } from '../support/kubernetes.js';
import { grantOperatorAccess, type OperatorAccess } from '../support/operator-access.js';
import { ChatClusters, EXTERNAL_DEPENDENCIES, installChatClusterCrd, inventory, OWNED_KINDS } from '../support/operator-chatclusters.js';
import { PartitionProxy } from '../support/partition-proxy.js';
import { cleanUpOperatorTest, printOperatorOutputOnFailure, startOperator, sumOf, type OperatorProcess } from '../support/operator-process.js';

const run = promisify(execFile);
const LEASE_NAME = 'chatcluster-operator';
const LEASE_DURATION_SECONDS = 15;
const STEADY_STATE_MS = 60_000;
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'chatcluster-operator', 'app.kubernetes.io/part-of': 'chatcluster', 'app.kubernetes.io/name': 'chatcluster' };
/** A small cluster that needs no volumes: external dependencies, one node. */
const SMALL_EXTERNAL = { ...EXTERNAL_DEPENDENCIES, autoscaling: { enabled: false }, replicas: 1 };
/** A small cluster with managed dependencies: one Redis, one Cassandra (two volumes). */
const SMALL_MANAGED = { redis: { managed: { mode: 'standalone' } }, cassandra: { managed: { replicas: 1, replicationFactor: 1 } }, autoscaling: { enabled: false }, replicas: 1 };

const unique = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

/** `Kind/name` of what a ChatCluster with external dependencies owns. */
function externalInventory(name: string, jobName: string): string[] {
  return [
    `ConfigMap/${name}-chat-config`,
    `Deployment/${name}-chat`,
    `Job/${jobName}`,
    `NetworkPolicy/${name}-chat`,
    `PodDisruptionBudget/${name}-chat`,
    `Secret/${name}-chat-jwt`,
    `Service/${name}-chat`,
    `Service/${name}-chat-nodes`,
  ];
}

/** The one schema Job's name among what a ChatCluster owns. */
function schemaJobOf(owned: Record<string, KubernetesObject[]>): string {
  const jobs = owned.Job ?? [];
  expect(jobs).toHaveLength(1);
  return jobs[0]?.metadata?.name ?? '';
}

describe('the ChatCluster operator on a real control plane', () => {
  const env = testEnvironment();
  let admin: KubeConfig;
  let dir: string | undefined;
  let access: OperatorAccess | undefined;
  let operatorNamespace: string;
  const namespaces: { name: string; delete(): Promise<void> }[] = [];

  const newNamespace = async (prefix: string): Promise<string> => {
    const namespace = await createTestNamespace(admin, prefix);
    namespaces.push(namespace);
    return namespace.name;
  };
  const granted = (): OperatorAccess => {
    if (access === undefined) throw new Error('the operator’s ServiceAccount was not set up');
    return access;
  };
  /** An operator of this file: watches `watchNamespace`, keeps its Lease in `leaseNamespace`. */
  const operatorFor = (watchNamespace: string, leaseNamespace: string, identity = unique('operator')): Promise<OperatorProcess> =>
    startOperator({ kubeconfig: granted().kubeconfig, leaseNamespace, watchNamespace, identity });
  const leaseHolder = async (namespace: string): Promise<string | undefined> => {
    const lease = await admin
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace, name: LEASE_NAME })
      .catch(() => undefined);
    return lease?.spec?.holderIdentity;
  };
  const waitUntilLeading = async (operator: OperatorProcess, timeoutMs = 30_000): Promise<void> => {
    await vi.waitFor(async () => {
      const response = await fetch(`${operator.healthUrl}/readyz`);
      expect(await response.text()).toBe('ok');
    }, { timeout: timeoutMs, interval: 200 });
  };

  beforeAll(async () => {
    admin = adminKubeConfig(env);
    dir = mkdtempSync(join(tmpdir(), 'chatcluster-operator-test-'));
    operatorNamespace = await newNamespace('chatop');
    access = await grantOperatorAccess(admin, operatorNamespace, dir);
    await installChatClusterCrd(admin, env.processEnv, operatorNamespace);
  });

  printOperatorOutputOnFailure();
  // Runs even when a hook or test failed.
  afterAll(() => cleanUpOperatorTest({ access, namespaces, dir }));

  describe('one operator managing the ChatClusters of a namespace', () => {
    let operator: OperatorProcess;
    let clusters: ChatClusters;
    let watchNamespace: string;

    beforeAll(async () => {
      watchNamespace = await newNamespace('chat');
      clusters = new ChatClusters(admin, watchNamespace);
      operator = await operatorFor(watchNamespace, operatorNamespace);
      await waitUntilLeading(operator);
    });

    it('turns a minimal `spec: {}` ChatCluster into every object it owns, owned and labelled, and reports it Ready', async () => {
      const name = unique('minimal');
      const created = await clusters.create(name, {});
      const owner = { apiVersion: 'chatcluster.dev/v1alpha1', kind: 'ChatCluster', name, uid: created.metadata.uid, controller: true, blockOwnerDeletion: true };

      const owned = await vi.waitFor(async () => {
        const objects = await clusters.owned(name);
        expect(inventory(objects)).toEqual(
          [
            `ConfigMap/${name}-chat-config`,
            `Deployment/${name}-chat`,
            `Job/${schemaJobOf(objects)}`,
            `NetworkPolicy/${name}-cassandra`,
            `NetworkPolicy/${name}-chat`,
            `NetworkPolicy/${name}-redis`,
            `PodDisruptionBudget/${name}-cassandra`,
            `PodDisruptionBudget/${name}-chat`,
            `PodDisruptionBudget/${name}-redis`,
            `Secret/${name}-chat-jwt`,
            `Service/${name}-cassandra`,
            `Service/${name}-chat`,
            `Service/${name}-chat-nodes`,
            `Service/${name}-redis`,
            `StatefulSet/${name}-cassandra`,
            `StatefulSet/${name}-redis`,
          ].sort(),
        );
        return objects;
      }, { timeout: 60_000, interval: 250 });

      const componentOf = (object: KubernetesObject): string => {
        const objectName = object.metadata?.name ?? '';
        if (object.kind === 'Job') return 'schema';
        if (objectName.endsWith('-redis')) return 'redis';
        if (objectName.endsWith('-cassandra')) return 'cassandra';
        return 'node';
      };
      for (const [kind, objects] of Object.entries(owned)) {
        for (const object of objects) {
          const what = `${kind}/${object.metadata?.name ?? ''}`;
          expect(object.metadata?.ownerReferences, what).toEqual([owner]);
          expect(object.metadata?.labels, what).toMatchObject({ ...MANAGED_BY, 'app.kubernetes.io/instance': name, 'app.kubernetes.io/component': componentOf({ ...object, kind }) });
        }
      }
      expect((owned.Job[0] as V1Job).spec?.template.spec?.containers[0]?.image).toBe(RELEASED_NODE_IMAGE);

      const ready = await clusters.waitForReady(name, 90_000);
      const generation = ready.metadata.generation;
      expect(ready.status).toMatchObject({
        observedGeneration: generation,
        phase: 'Ready',
        replicas: 2,
        readyReplicas: 2,
        connections: 0,
        selector: `app.kubernetes.io/name=chatcluster,app.kubernetes.io/instance=${name},app.kubernetes.io/component=node`,
        endpoint: `${name}-chat.${watchNamespace}.svc:8080`,
      });
      const conditions = Object.fromEntries((ready.status?.conditions ?? []).map((condition) => [condition.type, condition]));
      const expected = {
        Ready: ['True', 'AllReady'],
        Progressing: ['False', 'Stable'],
        Degraded: ['False', 'AsExpected'],
        RedisReady: ['True', 'Ready'],
        CassandraReady: ['True', 'Ready'],
        SchemaReady: ['True', 'Migrated'],
      };
      expect(Object.keys(conditions).sort()).toEqual(Object.keys(expected).sort());
      for (const [type, [status, reason]] of Object.entries(expected)) {
        expect(conditions[type], type).toMatchObject({ status, reason, observedGeneration: generation });
        expect(Date.parse(conditions[type]?.lastTransitionTime ?? ''), type).not.toBeNaN();
      }

      // The PhaseReady Event is recorded just after the status that says Ready: wait for it.
      const events = await vi.waitFor(async () => {
        const listed = await admin.makeApiClient(CoreV1Api).listNamespacedEvent({
          namespace: watchNamespace,
          fieldSelector: `involvedObject.kind=ChatCluster,involvedObject.name=${name}`,
        });
        const reasons = listed.items.map((event) => event.reason);
        expect(reasons).toContain('Created');
        expect(reasons).toContain('PhaseReady');
        return listed;
      }, { timeout: 10_000, interval: 200 });
      for (const event of events.items) {
        expect(event.source?.component).toBe('chatcluster-operator');
        expect(event.involvedObject.uid).toBe(created.metadata.uid);
      }
    });

    it('answers /healthz and /readyz, and /metrics with its reconcile, duration, error and queue-depth metrics', async () => {
      const healthz = await fetch(`${operator.healthUrl}/healthz`);
      expect([healthz.status, await healthz.text()]).toEqual([200, 'ok']);
      const readyz = await fetch(`${operator.healthUrl}/readyz`);
      expect([readyz.status, await readyz.text()]).toEqual([200, 'ok']);

      const response = await fetch(`${operator.healthUrl}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      for (const name of [
        'chatcluster_operator_reconciles_total',
        'chatcluster_operator_reconcile_duration_seconds',
        'chatcluster_operator_workqueue_depth',
        'chatcluster_operator_api_writes_total',
        'chatcluster_operator_leader',
        'process_resident_memory_bytes',
      ]) {
        expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      }
      const samples = await operator.metrics();
      expect(sumOf(samples, 'chatcluster_operator_reconciles_total', { result: 'success' })).toBeGreaterThan(0);
      // Failures are a series of their own from the start, so alerts on their rate need no first failure.
      expect(samples.some((sample) => sample.name === 'chatcluster_operator_reconciles_total' && sample.labels.result === 'error')).toBe(true);
      expect(sumOf(samples, 'chatcluster_operator_reconcile_duration_seconds_count')).toBeGreaterThan(0);
      expect(samples.some((sample) => sample.name === 'chatcluster_operator_workqueue_depth')).toBe(true);
      expect(sumOf(samples, 'chatcluster_operator_leader')).toBe(1);
    });

    describe('spec changes', () => {
      const name = unique('updates');
      const apps = () => admin.makeApiClient(AppsV1Api);
      const deployment = async (): Promise<V1Deployment> => apps().readNamespacedDeployment({ namespace: watchNamespace, name: `${name}-chat` });
      const nodePods = async () =>
        (await admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: watchNamespace, labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component=node` })).items.filter(
          (pod) => pod.metadata?.deletionTimestamp === undefined,
        );

      beforeAll(async () => {
        await clusters.create(name, { ...EXTERNAL_DEPENDENCIES, autoscaling: { enabled: false }, replicas: 2 });
        await clusters.waitForReady(name, 60_000);
      });

      it('a new image runs a new schema Job first, and only after it succeeded rolls the Deployment to the image', async () => {
        const before = (await clusters.owned(name)).Job.map((job) => job.metadata?.name);
        expect(before).toHaveLength(1);
        const image = 'chatcluster/chat-node:0.2.0';
        await clusters.patch(name, { spec: { image } });

        // Read the Deployment before the Jobs: a Deployment on the new image seen before its Job succeeded is caught.
        let rolledBeforeMigrated = false;
        const newJob = await vi.waitFor(async () => {
          const rolled = (await deployment()).spec?.template.spec?.containers[0]?.image === image;
          const jobs = (await clusters.owned(name)).Job as V1Job[];
          const job = jobs.find((candidate) => candidate.spec?.template.spec?.containers[0]?.image === image);
          const migrated = (job?.status?.succeeded ?? 0) > 0;
          if (rolled && !migrated) rolledBeforeMigrated = true;
          expect(rolled && migrated).toBe(true);
          return job;
        }, { timeout: 60_000, interval: 100 });
        expect(rolledBeforeMigrated).toBe(false);
        expect(before).not.toContain(newJob?.metadata?.name);

        // The earlier image's Job goes once the new one succeeded: one schema Job, the current one.
        await vi.waitFor(async () => {
          expect((await clusters.owned(name)).Job.map((job) => job.metadata?.name)).toEqual([newJob?.metadata?.name]);
        }, { timeout: 30_000, interval: 250 });
        await clusters.waitForReady(name);
        expect((await nodePods()).map((pod) => pod.spec?.containers[0]?.image)).toEqual([image, image]);
      });

      it('a new maxFrameBytes changes the ConfigMap and rolls the pods through the config-hash annotation', async () => {
        const configHash = (d: V1Deployment) => d.spec?.template.metadata?.annotations?.['chatcluster.dev/config-hash'];
        const hashBefore = configHash(await deployment());
        expect(hashBefore).toMatch(/^[0-9a-f]{10}$/);
        await clusters.patch(name, { spec: { limits: { maxFrameBytes: 131072 } } });

        const hashAfter = await vi.waitFor(async () => {
          const configMap = (await clusters.owned(name)).ConfigMap[0] as V1ConfigMap;
          expect(configMap.data?.CHAT_MAX_FRAME_BYTES).toBe('131072');
          const hash = configHash(await deployment());
          expect(hash).not.toBe(hashBefore);
          return hash;
        }, { timeout: 30_000, interval: 200 });

        // A rollout: the Deployment controller makes a new ReplicaSet with the new hash, and every pod is from it.
        await vi.waitFor(async () => {
          const replicaSets = await apps().listNamespacedReplicaSet({ namespace: watchNamespace, labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component=node` });
          const current = replicaSets.items.find((set) => set.spec?.template?.metadata?.annotations?.['chatcluster.dev/config-hash'] === hashAfter);
          expect(current?.status?.readyReplicas).toBe(2);
          const others = replicaSets.items.filter((set) => set !== current);
          expect(others.map((set) => set.spec?.replicas)).toEqual(others.map(() => 0));
          const podHashes = (await nodePods()).map((pod) => pod.metadata?.labels?.['pod-template-hash']);
          expect(podHashes).toEqual([current?.metadata?.labels?.['pod-template-hash'], current?.metadata?.labels?.['pod-template-hash']]);
        }, { timeout: 60_000, interval: 250 });
        await clusters.waitForReady(name);
      });

      it('podTemplate nodeSelector and labels reach the node pods', async () => {
        await clusters.patch(name, { spec: { podTemplate: { nodeSelector: { 'topology.kubernetes.io/zone': 'zone-1' }, labels: { team: 'chat-a' } } } });
        await vi.waitFor(async () => {
          const template = (await deployment()).spec?.template;
          expect(template?.spec?.nodeSelector).toEqual({ 'topology.kubernetes.io/zone': 'zone-1' });
          expect(template?.metadata?.labels).toMatchObject({ team: 'chat-a', 'app.kubernetes.io/component': 'node' });
          const pods = await nodePods();
          expect(pods).toHaveLength(2);
          for (const pod of pods) {
            expect(pod.spec?.nodeName).toBe('kwok-node-1');
            expect(pod.metadata?.labels?.team).toBe('chat-a');
          }
        }, { timeout: 60_000, interval: 250 });
        await clusters.waitForReady(name);
      });

      it('with autoscaling off, spec.replicas sets the Deployment’s replicas, and so does `kubectl scale chat/<name>`', async () => {
        await clusters.patch(name, { spec: { replicas: 4 } });
        await vi.waitFor(async () => {
          expect((await deployment()).spec?.replicas).toBe(4);
        }, { timeout: 30_000, interval: 200 });
        expect((await clusters.waitForReady(name)).status).toMatchObject({ replicas: 4, readyReplicas: 4 });

        const { stdout } = await run('kubectl', ['scale', `chat/${name}`, '--replicas=1', '--namespace', watchNamespace], { env: env.processEnv });
        expect(stdout).toContain('scaled');
        await vi.waitFor(async () => {
          expect((await deployment()).spec?.replicas).toBe(1);
        }, { timeout: 30_000, interval: 200 });
        expect((await clusters.waitForReady(name)).status).toMatchObject({ replicas: 1, readyReplicas: 1 });
      });

      it('takes back a hand edit of what it owns: the Deployment scaled by hand, the NetworkPolicy opened to all', async () => {
        const kubectl = (...args: string[]) => run('kubectl', [...args, '--namespace', watchNamespace], { env: env.processEnv });
        const ingressOf = async () => (await kubectl('get', 'networkpolicy', `${name}-chat`, '-o', 'jsonpath={.spec.ingress}')).stdout;
        const ingress = await ingressOf();
        expect(ingress).toContain('"port"');

        expect((await kubectl('scale', `deployment/${name}-chat`, '--replicas=3')).stdout).toContain('scaled');
        expect((await kubectl('patch', 'networkpolicy', `${name}-chat`, '--type=merge', '-p', '{"spec":{"ingress":[{}]}}')).stdout).toContain('patched');
        await vi.waitFor(async () => {
          expect((await deployment()).spec?.replicas).toBe(1);
          expect(await ingressOf()).toBe(ingress);
        }, { timeout: 30_000, interval: 200 });
        expect((await clusters.waitForReady(name)).status).toMatchObject({ replicas: 1, readyReplicas: 1 });
      });
    });

    describe('external dependencies', () => {
      it('a ChatCluster with an external Redis and Cassandra gets no StatefulSets, and its nodes are pointed at them', async () => {
        const name = unique('external');
        await clusters.create(name, SMALL_EXTERNAL);
        const ready = await clusters.waitForReady(name);
        const owned = await clusters.owned(name);
        expect(inventory(owned)).toEqual(externalInventory(name, schemaJobOf(owned)));
        expect((owned.ConfigMap[0] as V1ConfigMap).data).toMatchObject({
          CHAT_REDIS_URL: 'redis://redis.example:6379',
          CHAT_CASSANDRA_CONTACT_POINTS: 'cassandra-a.example:9042,cassandra-b.example:9042',
          CHAT_CASSANDRA_DC: 'dc1',
        });
        const conditions = ready.status?.conditions ?? [];
        expect(conditions.find((condition) => condition.type === 'RedisReady')).toMatchObject({ status: 'True', reason: 'External' });
        expect(conditions.find((condition) => condition.type === 'CassandraReady')).toMatchObject({ status: 'True', reason: 'External' });
      });

      it('switching a managed ChatCluster to external dependencies deletes its StatefulSets and their Services', async () => {
        const name = unique('switch');
        await clusters.create(name, SMALL_MANAGED);
        await clusters.waitForReady(name, 90_000);
        const managed = await clusters.owned(name);
        expect(managed.StatefulSet.map((set) => set.metadata?.name).sort()).toEqual([`${name}-cassandra`, `${name}-redis`]);

        await clusters.patch(name, { spec: { redis: { managed: null, ...EXTERNAL_DEPENDENCIES.redis }, cassandra: { managed: null, ...EXTERNAL_DEPENDENCIES.cassandra } } });
        await vi.waitFor(async () => {
          const owned = await clusters.owned(name);
          expect(owned.StatefulSet).toEqual([]);
          expect(inventory(owned)).toEqual(externalInventory(name, schemaJobOf(owned)));
          expect((owned.ConfigMap[0] as V1ConfigMap).data?.CHAT_REDIS_URL).toBe('redis://redis.example:6379');
        }, { timeout: 60_000, interval: 250 });
        const ready = await clusters.waitForReady(name);
        expect(ready.status?.conditions?.find((condition) => condition.type === 'RedisReady')?.reason).toBe('External');
      });
    });

    it('deleting a ChatCluster garbage-collects everything it owned, and keeps its data volumes (whenDeleted: Retain)', async () => {
      const name = unique('deleted');
      await clusters.create(name, SMALL_MANAGED);
      await clusters.waitForReady(name, 90_000);
      const core = admin.makeApiClient(CoreV1Api);
      const claims = async () => (await core.listNamespacedPersistentVolumeClaim({ namespace: watchNamespace, labelSelector: `app.kubernetes.io/instance=${name}` })).items;
      await vi.waitFor(async () => {
        const bound = (await claims()).filter((claim) => claim.status?.phase === 'Bound').map((claim) => claim.metadata?.name);
        expect(bound.sort()).toEqual([`data-${name}-cassandra-0`, `data-${name}-redis-0`]);
      }, { timeout: 30_000, interval: 250 });
      expect(Object.values(await clusters.owned(name)).flat().length).toBeGreaterThan(0);

      await clusters.delete(name);
      await vi.waitFor(async () => {
        expect(inventory(await clusters.owned(name))).toEqual([]);
      }, { timeout: 60_000, interval: 250 });
      // Nothing comes back (the operator does not recreate what the collector removed), and the volumes stay.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(inventory(await clusters.owned(name))).toEqual([]);
      const kept = await claims();
      expect(kept.map((claim) => claim.metadata?.name).sort()).toEqual([`data-${name}-cassandra-0`, `data-${name}-redis-0`]);
      for (const claim of kept) {
        expect(claim.metadata?.deletionTimestamp).toBeUndefined();
        expect(claim.status?.phase).toBe('Bound');
      }
    });

    it('an operator killed (SIGKILL) mid-reconcile converges when it restarts: every cluster Ready, no object twice', async () => {
      const names = [unique('crash'), unique('crash'), unique('crash'), unique('crash')];
      const specs = new Map(names.map((name, index) => [name, index === 0 ? SMALL_MANAGED : SMALL_EXTERNAL]));
      await Promise.all(names.map((name) => clusters.create(name, specs.get(name))));

      // Kill it as soon as it has begun writing what they own.
      await vi.waitFor(async () => {
        const configMaps = await clusters.listKind('v1', 'ConfigMap', 'app.kubernetes.io/managed-by=chatcluster-operator');
        expect(configMaps.some((configMap) => names.includes(configMap.metadata?.labels?.['app.kubernetes.io/instance'] ?? ''))).toBe(true);
      }, { timeout: 30_000, interval: 20 });
      await operator.stop('SIGKILL');
      const atKill = await Promise.all(names.map((name) => clusters.owned(name)));
      // Mid-reconcile indeed: no cluster can have its Deployment yet (it waits for the schema Job to succeed).
      expect(atKill.some((owned) => owned.Deployment.length === 0)).toBe(true);

      // The restarted container keeps its pod's name, so it renews its own Lease at once.
      operator = await operatorFor(watchNamespace, operatorNamespace, operator.identity);
      await Promise.all(names.map((name) => clusters.waitForReady(name, 90_000)));
      const replicaSets = await admin.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace: watchNamespace });
      for (const name of names) {
        const owned = await clusters.owned(name);
        const counts = Object.fromEntries(OWNED_KINDS.map(({ kind }) => [kind, owned[kind].length]));
        const managed = specs.get(name) === SMALL_MANAGED;
        expect(counts, name).toEqual({
          ConfigMap: 1,
          Secret: 1,
          Service: managed ? 4 : 2,
          Deployment: 1,
          StatefulSet: managed ? 2 : 0,
          Job: 1,
          PodDisruptionBudget: managed ? 2 : 1,
          NetworkPolicy: managed ? 3 : 1,
        });
        const ownReplicaSets = replicaSets.items.filter((set) => set.metadata?.labels?.['app.kubernetes.io/instance'] === name);
        expect(ownReplicaSets, `${name}: ReplicaSets`).toHaveLength(1);
      }
    });

    it('makes no writes once its ChatClusters are Ready: no API write and no resourceVersion change over 60 s', async () => {
      const all = await clusters.list();
      expect(all.length).toBeGreaterThanOrEqual(5);
      await Promise.all(all.map((cluster) => clusters.waitForReady(cluster.metadata.name)));

      const snapshot = async () => {
        const samples = await operator.metrics();
        const writes = sumOf(samples, 'chatcluster_operator_api_writes_total');
        const reconciles = sumOf(samples, 'chatcluster_operator_reconciles_total');
        const versions = new Map<string, string>();
        for (const cluster of await clusters.list()) versions.set(`ChatCluster/${cluster.metadata.name}`, cluster.metadata.resourceVersion);
        for (const [kind, objects] of Object.entries(await clusters.owned())) {
          for (const object of objects) versions.set(`${kind}/${object.metadata?.name ?? ''}`, object.metadata?.resourceVersion ?? '');
        }
        return { writes, reconciles, versions: Object.fromEntries(versions) };
      };
      const before = await snapshot();
      expect(Object.keys(before.versions).length).toBeGreaterThan(40);
      await new Promise((resolve) => setTimeout(resolve, STEADY_STATE_MS));
      const after = await snapshot();
      expect(after.writes).toBe(before.writes);
      expect(after.versions).toEqual(before.versions);
      // Not idle for want of looking: autoscaled clusters are reconciled again every 15 s, writing nothing.
      expect(after.reconciles).toBeGreaterThan(before.reconciles);
      // Still running, and no reconcile of this process (crash recovery included) ever failed.
      expect(operator.exited).toBe(false);
      expect(operator.warnings()).toEqual([]);
    }, STEADY_STATE_MS + 60_000);
  });

  describe('the namespaced install', () => {
    it('reconciles a ChatCluster to Ready with the same rules granted as a Role in its one namespace', async () => {
      const namespace = await newNamespace('chatns');
      if (dir === undefined) throw new Error('beforeAll did not make a folder');
      const namespacedAccess = await grantOperatorAccess(admin, namespace, dir, 'namespace');
      const operator = await startOperator({ kubeconfig: namespacedAccess.kubeconfig, leaseNamespace: namespace, watchNamespace: namespace, identity: unique('namespaced') });
      await waitUntilLeading(operator);
      const namespacedClusters = new ChatClusters(admin, namespace);
      const name = unique('ns-scoped');
      await namespacedClusters.create(name, {});
      const ready = await namespacedClusters.waitForReady(name);
      expect(ready.status?.conditions?.find((condition) => condition.type === 'Ready')?.status).toBe('True');
      expect(operator.warnings().filter((line) => line.includes('forbidden'))).toEqual([]);
      await operator.stop();
    });
  });

  describe('leader election between two operator processes', () => {
    let watchNamespace: string;
    let leaseNamespace: string;
    let clusters: ChatClusters;
    let first: OperatorProcess;
    let second: OperatorProcess;
    const reconciles = async (operator: OperatorProcess) => sumOf(await operator.metrics(), 'chatcluster_operator_reconciles_total');

    beforeAll(async () => {
      watchNamespace = await newNamespace('chatfo');
      leaseNamespace = await newNamespace('chatfo-lease');
      await granted().allowLeasesIn(leaseNamespace);
      clusters = new ChatClusters(admin, watchNamespace);
    });

    it('exactly one holds the Lease, and only it reconciles', async () => {
      first = await operatorFor(watchNamespace, leaseNamespace);
      await waitUntilLeading(first);
      second = await operatorFor(watchNamespace, leaseNamespace);
      expect(await leaseHolder(leaseNamespace)).toBe(first.identity);

      const name = unique('before-failover');
      await clusters.create(name, SMALL_EXTERNAL);
      await clusters.waitForReady(name);
      expect(await reconciles(first)).toBeGreaterThan(0);
      expect(await reconciles(second)).toBe(0);
      expect(sumOf(await second.metrics(), 'chatcluster_operator_leader')).toBe(0);
      const standby = await fetch(`${second.healthUrl}/readyz`);
      expect([standby.status, await standby.text()]).toEqual([200, 'standby']);
      expect(await leaseHolder(leaseNamespace)).toBe(first.identity);
    });

    it('when the leader is killed, the other takes the Lease within its duration and reconciles a new ChatCluster to Ready', async () => {
      const killedAt = Date.now();
      await first.stop('SIGKILL');
      await vi.waitFor(async () => {
        expect(await leaseHolder(leaseNamespace)).toBe(second.identity);
      }, { timeout: (LEASE_DURATION_SECONDS + 10) * 1000, interval: 250 });
      const takeoverMs = Date.now() - killedAt;
      expect(takeoverMs).toBeLessThan((LEASE_DURATION_SECONDS + 5) * 1000);

      const name = unique('after-failover');
      await clusters.create(name, SMALL_EXTERNAL);
      await clusters.waitForReady(name);
      expect(await reconciles(second)).toBeGreaterThan(0);
      expect(sumOf(await second.metrics(), 'chatcluster_operator_leader')).toBe(1);
    });

    it('a leader stopped with SIGTERM gives the Lease up at once: a standby takes it well within the Lease duration', async () => {
      const third = await operatorFor(watchNamespace, leaseNamespace);
      expect(await (await fetch(`${third.healthUrl}/readyz`)).text()).toBe('standby');
      const stoppedAt = Date.now();
      await second.stop('SIGTERM');
      expect(second.child.exitCode).toBe(0);
      // Released before it exited: nobody holds it, or the standby already does.
      expect(['', third.identity]).toContain(await leaseHolder(leaseNamespace));
      await vi.waitFor(async () => {
        expect(await leaseHolder(leaseNamespace)).toBe(third.identity);
      }, { timeout: LEASE_DURATION_SECONDS * 1000, interval: 100 });
      // The standby retries every 2 s: it takes a released Lease within about that.
      expect(Date.now() - stoppedAt).toBeLessThan(6000);
      await waitUntilLeading(third);
    });

    it('a leader cut off from the API server stops acting within its renew deadline, before a standby can take the Lease', async () => {
      const lease = await newNamespace('chatcut-lease');
      await granted().allowLeasesIn(lease);
      const apiServer = new URL(admin.getCurrentCluster()?.server ?? '');
      const proxy = await PartitionProxy.start(apiServer.hostname, Number(apiServer.port));
      try {
        const throughProxy = join(dir ?? '', 'through-proxy.kubeconfig');
        writeFileSync(throughProxy, readFileSync(granted().kubeconfig, 'utf8').replace(apiServer.origin, `https://${apiServer.hostname}:${String(proxy.port)}`), { mode: 0o600 });
        const cutOff = await startOperator({ kubeconfig: throughProxy, leaseNamespace: lease, watchNamespace, identity: unique('cut-off') });
        await waitUntilLeading(cutOff);
        const standby = await operatorFor(watchNamespace, lease);

        proxy.cut();
        const exited = once(cutOff.child, 'exit').then(() => Date.now());
        await vi.waitFor(async () => {
          expect(await leaseHolder(lease)).toBe(standby.identity);
        }, { timeout: (LEASE_DURATION_SECONDS + 15) * 1000, interval: 250 });
        const takenOverAt = Date.now();
        // Its requests hang rather than fail; it must not go on acting as leader while another does.
        expect(cutOff.exited).toBe(true);
        expect(await exited).toBeLessThan(takenOverAt);
        expect(cutOff.tail()).toContain('leadership lost; exiting');
        await waitUntilLeading(standby);
        await standby.stop();
      } finally {
        await proxy.close();
      }
    }, 90_000);
  });

  describe('figures: creation latency and memory', () => {
    let clusters: ChatClusters;
    let operator: OperatorProcess;
    /** RSS once leading, before any ChatCluster. */
    let idleRss: number;

    beforeAll(async () => {
      const watchNamespace = await newNamespace('chatfig');
      const leaseNamespace = await newNamespace('chatfig-lease');
      await granted().allowLeasesIn(leaseNamespace);
      clusters = new ChatClusters(admin, watchNamespace);
      operator = await operatorFor(watchNamespace, leaseNamespace);
      await waitUntilLeading(operator);
      idleRss = sumOf(await operator.metrics(), 'process_resident_memory_bytes');
    });

    /** Creates ChatClusters at once and resolves with, per cluster, ms from its create to all its objects existing. */
    const createAndTime = async (names: string[]): Promise<number[]> => {
      const createdAt = new Map<string, number>();
      await Promise.all(
        names.map(async (name) => {
          createdAt.set(name, Date.now());
          await clusters.create(name, SMALL_EXTERNAL);
        }),
      );
      const completedAfter = new Map<string, number>();
      await vi.waitFor(async () => {
        const owned = await clusters.owned();
        const now = Date.now();
        for (const name of names) {
          if (completedAfter.has(name)) continue;
          const mine = Object.fromEntries(Object.entries(owned).map(([kind, list]) => [kind, list.filter((o) => o.metadata?.labels?.['app.kubernetes.io/instance'] === name)]));
          if (mine.Job?.length !== 1) continue;
          if (inventory(mine).join() === externalInventory(name, mine.Job[0]?.metadata?.name ?? '').join()) completedAfter.set(name, now - (createdAt.get(name) ?? now));
        }
        expect(names.filter((name) => !completedAfter.has(name))).toEqual([]);
      }, { timeout: 120_000, interval: 200 });
      return names.map((name) => completedAfter.get(name) ?? Number.NaN);
    };

    it('apply → all objects created, for 20 ChatClusters at once (p50 and max ms)', async () => {
      const latencies = (await createAndTime(Array.from({ length: 20 }, () => unique('fig')))).sort((a, b) => a - b);
      expect(latencies.every((ms) => Number.isFinite(ms))).toBe(true);
      const p50Ms = latencies[Math.ceil(latencies.length / 2) - 1];
      console.log(JSON.stringify({ figure: 'operator apply to all objects created', clusters: 20, p50Ms, maxMs: latencies.at(-1) }));
    });

    it('resident memory (RSS) of the operator managing 50 ChatClusters', async () => {
      const existing = (await clusters.list()).length;
      await createAndTime(Array.from({ length: 50 - existing }, () => unique('fig')));
      expect(await clusters.list()).toHaveLength(50);
      const rss = sumOf(await operator.metrics(), 'process_resident_memory_bytes');
      expect(rss).toBeGreaterThan(0);
      console.log(JSON.stringify({ figure: 'operator resident memory', clusters: 50, rssMiB: Math.round(rss / 2 ** 20), idleRssMiB: Math.round(idleRss / 2 ** 20) }));
    });
  });
});
