/**
 * The managed Redis's modes on a real control plane, with the operator as a child process
 * holding the chart's RBAC: a new ChatCluster gets a Sentinel Redis, a ChatCluster that
 * already runs a single Redis keeps it across the operator upgrade that brought modes, and
 * turning one to Sentinel replaces what cannot change in place. No pod runs a real Redis
 * here (kwok marks pods ready), so the operator cannot ask the Sentinels and claims no primary.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, type KubeConfig, type V1ConfigMap, type V1Service, type V1StatefulSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHATCLUSTER_API_VERSION, parseChatClusterSpec, type ChatCluster, type RedisMode } from '../../common/chatcluster.js';
import { desiredRedis } from '../../operator/desired/redis.js';
import { testEnvironment } from '../support/env.js';
import { adminKubeConfig, createTestNamespace } from '../support/kubernetes.js';
import { grantOperatorAccess, type OperatorAccess } from '../support/operator-access.js';
import { ChatClusters, installChatClusterCrd, type StoredChatCluster } from '../support/operator-chatclusters.js';
import { cleanUpOperatorTest, printOperatorOutputOnFailure, startOperator } from '../support/operator-process.js';

/** Small beside the Redis: one Cassandra, one node, no autoscaling. */
const SMALL = { cassandra: { managed: { replicas: 1, replicationFactor: 1 } }, autoscaling: { enabled: false }, replicas: 1 };

describe('the managed Redis’s modes, on a real control plane', () => {
  const env = testEnvironment();
  let admin: KubeConfig;
  let dir: string;
  let access: OperatorAccess | undefined;
  let clusters: ChatClusters;
  const namespaces: { name: string; delete(): Promise<void> }[] = [];

  /** What a ChatCluster owns of its Redis, and what its nodes are told. */
  const redisOf = async (name: string) => {
    const owned = await clusters.owned(name);
    const named = (kind: keyof typeof owned, objectName: string) => owned[kind].find((object) => object.metadata?.name === objectName);
    // Each kind is one of the client's models, whose fields are all optional: a plain assignment types it.
    const statefulSet: V1StatefulSet | undefined = named('StatefulSet', `${name}-redis`);
    const service: V1Service | undefined = named('Service', `${name}-redis`);
    const config: V1ConfigMap | undefined = named('ConfigMap', `${name}-chat-config`);
    return { statefulSet, service, budget: named('PodDisruptionBudget', `${name}-redis`), url: config?.data?.CHAT_REDIS_URL };
  };
  const containersOf = (statefulSet: V1StatefulSet | undefined) => statefulSet?.spec?.template.spec?.containers.map((container) => container.name);

  beforeAll(async () => {
    admin = adminKubeConfig(env);
    dir = mkdtempSync(join(tmpdir(), 'chatcluster-redis-modes-'));
    const operatorNamespace = await createTestNamespace(admin, 'redisop');
    const watchNamespace = await createTestNamespace(admin, 'redis');
    namespaces.push(operatorNamespace, watchNamespace);
    access = await grantOperatorAccess(admin, operatorNamespace.name, dir);
    await installChatClusterCrd(admin, env.processEnv, watchNamespace.name);
    clusters = new ChatClusters(admin, watchNamespace.name);

    // Before the operator starts: a ChatCluster as the release before modes left it, whose
    // Redis runs as that release made it (one container, one pod, a ClusterIP Service).
    const created = await clusters.create('upgraded', { ...SMALL, redis: { managed: { storage: '1Gi' } } });
    const running = desiredRedis(asChatCluster(created, 'standalone'))?.statefulSet;
    if (running === undefined) throw new Error('no standalone Redis');
    await admin.makeApiClient(AppsV1Api).createNamespacedStatefulSet({ namespace: watchNamespace.name, body: running });

    await startOperator({ kubeconfig: access.kubeconfig, leaseNamespace: operatorNamespace.name, watchNamespace: watchNamespace.name, identity: 'redis-modes' });
  });

  printOperatorOutputOnFailure();
  afterAll(() => cleanUpOperatorTest({ access, namespaces, dir }));

  it('a new ChatCluster gets a Sentinel Redis: three pods of Redis and Sentinel, a headless Service, a disruption budget, nodes pointed at the Sentinels', async () => {
    await clusters.create('fresh', SMALL);
    const ready = await clusters.waitForReady('fresh', 120_000);
    const redis = await redisOf('fresh');
    expect(redis.statefulSet?.spec?.replicas).toBe(3);
    expect(containersOf(redis.statefulSet)).toEqual(['redis', 'sentinel']);
    expect(redis.service?.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(redis.budget).toBeDefined();
    const namespace = clusters.namespace;
    expect(redis.url).toBe(`redis+sentinel://${[0, 1, 2].map((ordinal) => `fresh-redis-${String(ordinal)}.fresh-redis.${namespace}.svc:26379`).join(',')}/chat`);
    // The Sentinels are out of the operator's reach here: the mode is reported, no primary is claimed.
    expect(ready.status?.redis).toEqual({ mode: 'sentinel' });
    expect(ready.status?.conditions?.find((condition) => condition.type === 'RedisReady')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('3/3 Redis pods ready; the operator could not reach the Sentinels') as unknown,
    });
    // The spec stays as written: the mode is the operator's decision, not a default stored in it.
    expect((await clusters.read('fresh')).spec.redis).toEqual({ managed: { storage: '1Gi' } });
  });

  it('a ChatCluster already running a single Redis keeps it after the upgrade, as does one that stored replicas: 1', async () => {
    await clusters.create('stored', { ...SMALL, redis: { managed: { replicas: 1, storage: '1Gi' } } });
    for (const name of ['upgraded', 'stored']) {
      const ready = await clusters.waitForReady(name, 120_000);
      const redis = await redisOf(name);
      expect(redis.statefulSet?.spec?.replicas, name).toBe(1);
      expect(containersOf(redis.statefulSet), name).toEqual(['redis']);
      expect(redis.service?.spec?.clusterIP, name).not.toBe('None');
      expect(redis.budget, name).toBeUndefined();
      expect(redis.url, name).toBe(`redis://${name}-redis.${clusters.namespace}.svc:6379`);
      expect(ready.status?.redis, name).toEqual({ mode: 'standalone', primary: `${name}-redis-0` });
    }
  });

  it('turning a standalone Redis to Sentinel remakes its Service headless and rolls its StatefulSet to three pods in place, keeping its volume claims', async () => {
    const before = await redisOf('stored');
    await clusters.patch('stored', { spec: { redis: { managed: { mode: 'sentinel', replicas: null } } } });
    await vi.waitFor(async () => {
      const redis = await redisOf('stored');
      expect(redis.service?.spec?.clusterIP).toBe('None');
      expect(redis.statefulSet?.spec?.replicas).toBe(3);
      expect(containersOf(redis.statefulSet)).toEqual(['redis', 'sentinel']);
      expect(redis.budget).toBeDefined();
      expect(redis.url).toContain('redis+sentinel://stored-redis-0.stored-redis.');
    }, { timeout: 60_000, interval: 250 });
    const after = await redisOf('stored');
    // The StatefulSet is the same object, so pod 0 keeps its claim (data-stored-redis-0) and its data.
    expect(after.statefulSet?.metadata?.uid).toBe(before.statefulSet?.metadata?.uid);
    expect(after.service?.metadata?.uid).not.toBe(before.service?.metadata?.uid);
    expect((await clusters.waitForReady('stored', 120_000)).status?.redis).toEqual({ mode: 'sentinel' });

    // And back: the budget goes, the Service is a ClusterIP one again.
    await clusters.patch('stored', { spec: { redis: { managed: { mode: 'standalone' } } } });
    await vi.waitFor(async () => {
      const redis = await redisOf('stored');
      expect(redis.service?.spec?.clusterIP).not.toBe('None');
      expect(redis.statefulSet?.spec?.replicas).toBe(1);
      expect(redis.budget).toBeUndefined();
    }, { timeout: 60_000, interval: 250 });
  });
});

/** The operator's view of a stored ChatCluster, its managed Redis in `mode`. */
function asChatCluster(stored: StoredChatCluster, mode: RedisMode): ChatCluster {
  const spec = parseChatClusterSpec(stored.spec);
  return {
    apiVersion: CHATCLUSTER_API_VERSION,
    kind: 'ChatCluster',
    metadata: { name: stored.metadata.name, namespace: stored.metadata.namespace, uid: stored.metadata.uid, generation: stored.metadata.generation },
    spec: { ...spec, redis: { managed: { storage: '1Gi', ...spec.redis.managed, mode } } },
  };
}
