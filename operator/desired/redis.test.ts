import { describe, expect, it } from 'vitest';
import { desiredRedis, managedRedisUrl, REDIS_MASTER_NAME } from './redis.js';
import { resolveManagedRedis } from './redis-mode.js';
import { redisStartScript, sentinelStartScript } from './redis-scripts.js';
import { appliedObjects, chatClusterOf } from '../../test/support/chatcluster-fixture.js';

const cluster = chatClusterOf;

function redisOf(spec: unknown) {
  const redis = desiredRedis(cluster(spec));
  if (redis === undefined) throw new Error('no managed Redis');
  return redis;
}

describe('a Sentinel-managed Redis (the default)', () => {
  const redis = redisOf({});
  const pod = redis.statefulSet.spec?.template.spec;
  const env = Object.fromEntries((pod?.containers[0]?.env ?? []).map((variable) => [variable.name, variable.value ?? variable.valueFrom?.fieldRef?.fieldPath]));

  it('is three pods, each a Redis and a Sentinel, started in order and spread over hosts when it can', () => {
    expect(redis.mode).toBe('sentinel');
    expect(redis.statefulSet.spec?.replicas).toBe(3);
    expect(redis.statefulSet.spec?.podManagementPolicy).toBe('OrderedReady');
    expect(pod?.containers.map((container) => container.name)).toEqual(['redis', 'sentinel']);
    expect(pod?.containers.map((container) => container.image)).toEqual(['redis:7.4.2', 'redis:7.4.2']);
    expect(pod?.containers.map((container) => container.ports?.[0]?.containerPort)).toEqual([6379, 26379]);
    // Preferred, not required: a one-host cluster (kind) still runs all three.
    expect(pod?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(pod?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
  });

  it('names its pods through a headless Service that publishes them before they are ready', () => {
    expect(redis.service.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(redis.service.spec?.ports?.map((port) => port.port)).toEqual([6379, 26379]);
    expect(redis.statefulSet.spec?.serviceName).toBe(redis.service.metadata?.name);
    expect(env).toMatchObject({
      POD_NAME: 'metadata.name',
      PEER_DOMAIN: 'demo-redis.team-a.svc',
      SENTINELS: 'demo-redis-0.demo-redis.team-a.svc demo-redis-1.demo-redis.team-a.svc demo-redis-2.demo-redis.team-a.svc',
      MASTER_NAME: REDIS_MASTER_NAME,
      FIRST_POD: 'demo-redis-0',
    });
  });

  it('lets one pod at a time be disrupted, and has a stopping primary hand over to a replica first', () => {
    expect(redis.disruptionBudget?.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: redis.statefulSet.spec?.selector.matchLabels } });
    const handOver = pod?.containers[0]?.lifecycle?.preStop?.exec?.command?.[2] ?? '';
    expect(handOver).toContain('SENTINEL FAILOVER "$MASTER_NAME"');
    expect(handOver).toContain('[ "$(role)" = master ] || exit 0');
  });

  it('keeps its files on the data volume: the root filesystem is read-only and both servers rewrite their configuration', () => {
    for (const container of pod?.containers ?? []) {
      expect(container.securityContext?.readOnlyRootFilesystem, container.name).toBe(true);
      expect(container.volumeMounts, container.name).toEqual([{ name: 'data', mountPath: '/data' }]);
    }
    expect(pod?.containers[0]?.command?.[2]).toContain('> /data/redis.conf');
    expect(pod?.containers[1]?.command?.[2]).toContain('cat > /data/sentinel.conf');
  });

  it('has its pods announce their host names, which survive a reschedule, and Sentinels agree by majority', () => {
    expect(redisStartScript(6379, 26379)).toContain('replica-announce-ip $self');
    const sentinel = sentinelStartScript(6379, 26379, 2);
    expect(sentinel).toContain('sentinel resolve-hostnames yes');
    expect(sentinel).toContain('sentinel announce-hostnames yes');
    expect(sentinel).toContain('sentinel monitor $MASTER_NAME $primary 6379 2');
    expect(pod?.containers[1]?.command?.[2]).toContain('sentinel monitor $MASTER_NAME $primary 6379 2\n');
    expect(redisOf({ redis: { managed: { replicas: 5 } } }).statefulSet.spec?.template.spec?.containers[1]?.command?.[2]).toContain('$primary 6379 3\n');
  });

  it('is given to the nodes as its Sentinels’ addresses and master name', () => {
    const managed = resolveManagedRedis(cluster({ redis: { managed: { replicas: 5 } } }));
    if (managed === undefined) throw new Error('no managed Redis');
    expect(managedRedisUrl(cluster(), managed)).toBe(
      'redis+sentinel://demo-redis-0.demo-redis.team-a.svc:26379,demo-redis-1.demo-redis.team-a.svc:26379,demo-redis-2.demo-redis.team-a.svc:26379,demo-redis-3.demo-redis.team-a.svc:26379,demo-redis-4.demo-redis.team-a.svc:26379/chat',
    );
  });

  it('admits the nodes to Redis and the Sentinels, the pods to each other, and the operator to the Sentinels only', () => {
    const { applied } = { applied: appliedObjects(cluster(), { nodeReplicas: 2 }) };
    const policy = applied.find((object) => object.kind === 'NetworkPolicy' && object.metadata?.name === 'demo-redis') as { spec: { ingress: { ports: { port: number }[]; _from: { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: unknown }[] }[] } };
    const admitted = policy.spec.ingress.map((rule) => ({
      port: rule.ports[0]?.port,
      from: rule._from.map((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component']),
    }));
    expect(admitted).toEqual([
      { port: 6379, from: ['node', 'schema', 'redis'] },
      { port: 26379, from: ['node', 'redis', 'operator'] },
    ]);
    expect(policy.spec.ingress[1]?._from[2]?.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'ops' } });
  });
});

describe('a standalone managed Redis', () => {
  const redis = redisOf({ redis: { managed: { mode: 'standalone' } } });

  it('is the one pod and ClusterIP Service it always was, with no disruption budget', () => {
    expect(redis.statefulSet.spec?.replicas).toBe(1);
    expect(redis.statefulSet.spec?.template.spec?.containers.map((container) => container.name)).toEqual(['redis']);
    expect(redis.statefulSet.spec?.template.spec?.containers[0]?.args).toEqual(['--appendonly', 'yes', '--dir', '/data', '--protected-mode', 'no']);
    expect(redis.statefulSet.spec).not.toHaveProperty('podManagementPolicy');
    expect(redis.service.spec?.clusterIP).toBeUndefined();
    expect(redis.disruptionBudget).toBeUndefined();
  });

  it('is given to the nodes as its Service’s address', () => {
    const managed = resolveManagedRedis(cluster({ redis: { managed: { replicas: 1 } } }));
    if (managed === undefined) throw new Error('no managed Redis');
    expect(managedRedisUrl(cluster(), managed)).toBe('redis://demo-redis.team-a.svc:6379');
  });
});
