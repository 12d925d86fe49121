import { describe, expect, it } from 'vitest';
import type { ChatCluster } from '../../common/chatcluster.js';
import { computeStatus, invalidSpecStatus, statusChanged, statusPatch, type Observed } from './status.js';
import { chatClusterOf } from '../../test/support/chatcluster-fixture.js';

const now = new Date('2026-11-22T10:00:00Z');
const cluster = (spec: unknown = {}): ChatCluster => chatClusterOf(spec, { namespace: 'ns', uid: 'u', generation: 4 });
const readySet = (replicas: number) => ({ spec: { replicas, selector: {}, serviceName: 'x', template: {} }, status: { replicas, readyReplicas: replicas } });
const allReady: Observed = {
  redis: readySet(3),
  cassandra: readySet(3),
  schemaJob: { metadata: { name: 'demo-schema-abc' }, status: { succeeded: 1 } },
  deployment: { status: { replicas: 3, readyReplicas: 3, updatedReplicas: 3 } },
  desiredReplicas: 3,
  connections: 1234,
};
const condition = (status: ReturnType<typeof computeStatus>, type: string) => status.conditions?.find((c) => c.type === type);

describe('the ChatCluster status', () => {
  it('is Ready with every condition true when dependencies, schema and nodes are ready', () => {
    const status = computeStatus(cluster(), allReady, now);
    expect(status).toMatchObject({
      observedGeneration: 4,
      phase: 'Ready',
      replicas: 3,
      readyReplicas: 3,
      connections: 1234,
      selector: 'app.kubernetes.io/name=chatcluster,app.kubernetes.io/instance=demo,app.kubernetes.io/component=node',
      endpoint: 'demo-chat.ns.svc:8080',
    });
    expect(Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.status]))).toEqual({
      Ready: 'True', Progressing: 'False', Degraded: 'False', RedisReady: 'True', CassandraReady: 'True', SchemaReady: 'True',
    });
  });

  it('is Degraded and not Ready, naming the reason, while the spec cannot be applied (cert-manager missing)', () => {
    const blocked = { reason: 'CertManagerMissing', message: 'spec.tls.issuerRef (Issuer ca) needs cert-manager' };
    const status = computeStatus(cluster(), { ...allReady, blocked }, now);
    expect(status.phase).toBe('Degraded');
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'True', reason: 'CertManagerMissing', message: blocked.message });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'NotReady', message: blocked.message });
    expect(condition(status, 'Progressing')?.status).toBe('True');
    // A reconcile failure still says more: it is what broke.
    expect(condition(computeStatus(cluster(), { ...allReady, blocked, error: 'HTTP 500' }, now), 'Degraded')?.reason).toBe('ReconcileFailed');
  });

  it('says what it waits for while Progressing', () => {
    const status = computeStatus(cluster(), { ...allReady, cassandra: { ...readySet(3), status: { replicas: 3, readyReplicas: 1 } }, deployment: undefined }, now);
    expect(status.phase).toBe('Progressing');
    expect(condition(status, 'CassandraReady')).toMatchObject({ status: 'False', reason: 'PodsNotReady', message: '1/3 Cassandra pods ready' });
    expect(condition(status, 'Ready')?.message).toContain('1/3 Cassandra pods ready');
  });

  it('is Degraded when the schema Job failed or a reconcile failed', () => {
    const failedJob = { metadata: { name: 'demo-schema-abc' }, status: { failed: 11, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } };
    const status = computeStatus(cluster(), { ...allReady, schemaJob: failedJob }, now);
    expect(status.phase).toBe('Degraded');
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'True', reason: 'SchemaFailed' });
    expect(condition(status, 'SchemaReady')).toMatchObject({ status: 'False', reason: 'JobFailed' });
    expect(computeStatus(cluster(), { ...allReady, error: 'forbidden: cannot create deployments' }, now).phase).toBe('Degraded');
  });

  it('treats external dependencies as ready', () => {
    const external = cluster({ redis: { external: { url: 'redis://r:6379' } }, cassandra: { external: { contactPoints: ['c:9042'] } } });
    const status = computeStatus(external, { ...allReady, redis: undefined, cassandra: undefined }, now);
    expect(condition(status, 'RedisReady')).toMatchObject({ status: 'True', reason: 'External' });
    expect(status.phase).toBe('Ready');
  });

  it('keeps a condition’s transition time until its status changes, and is unchanged when nothing changed', () => {
    const first = computeStatus(cluster(), allReady, now);
    const later = new Date(now.getTime() + 60_000);
    const again = computeStatus({ ...cluster(), status: first }, allReady, later);
    expect(condition(again, 'Ready')?.lastTransitionTime).toBe('2026-11-22T10:00:00Z');
    expect(statusChanged(first, again)).toBe(false);
    const flipped = computeStatus({ ...cluster(), status: first }, { ...allReady, deployment: { status: { replicas: 3, readyReplicas: 2, updatedReplicas: 3 } } }, later);
    expect(condition(flipped, 'Ready')?.lastTransitionTime).toBe('2026-11-22T10:01:00Z');
    expect(statusChanged(first, flipped)).toBe(true);
  });
});

describe('status comparison', () => {
  it('ignores the order of fields and conditions the API server returns', () => {
    const status = computeStatus(cluster(), allReady, now);
    const shuffled = { endpoint: status.endpoint, ...status, conditions: [...(status.conditions ?? [])].reverse() };
    expect(statusChanged(status, shuffled)).toBe(false);
    expect(statusChanged(status, { ...status, connections: 5 })).toBe(true);
  });
});

describe('the status of a spec the operator cannot read', () => {
  it('is Degraded with the reason, keeping the rest of what was reported', () => {
    const before = computeStatus(cluster(), allReady, now);
    const invalid = invalidSpecStatus(before, 5, 'replicas: expected number', now);
    expect(invalid).toMatchObject({ phase: 'Degraded', observedGeneration: 5, readyReplicas: 3, connections: 1234 });
    expect(condition(invalid, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: 'the operator cannot read this spec: replicas: expected number', observedGeneration: 5 });
    expect(condition(invalid, 'Ready')).toEqual(condition(before, 'Ready'));
  });

  it('is the same when worked out again later, so it is written (and its Event sent) once per generation', () => {
    const first = invalidSpecStatus(undefined, 5, 'bad', now);
    expect(statusChanged(first, invalidSpecStatus(first, 5, 'bad', new Date(now.getTime() + 60_000)))).toBe(false);
    expect(statusChanged(first, invalidSpecStatus(first, 6, 'bad', now))).toBe(true);
  });
});

describe('the managed Redis in the status', () => {
  const sentinelReady: Observed = { ...allReady, redis: readySet(3), redisMode: 'sentinel' };

  it('names the primary pod the Sentinels agree on, and is ready with it', () => {
    const status = computeStatus(cluster(), { ...sentinelReady, sentinels: { reached: true, primaryHost: 'demo-redis-1.demo-redis.ns.svc' } }, now);
    expect(status.redis).toEqual({ mode: 'sentinel', primary: 'demo-redis-1' });
    expect(condition(status, 'RedisReady')).toMatchObject({ status: 'True', reason: 'Ready', message: '3/3 Redis pods ready; primary demo-redis-1' });
  });

  it('is not ready while the Sentinels it reached know no primary', () => {
    const status = computeStatus(cluster(), { ...sentinelReady, sentinels: { reached: true, primaryHost: undefined } }, now);
    expect(status.redis).toEqual({ mode: 'sentinel' });
    expect(condition(status, 'RedisReady')).toMatchObject({ status: 'False', reason: 'NoPrimary' });
    expect(status.phase).toBe('Progressing');
  });

  it('claims no primary when the operator cannot reach the Sentinels, and goes by the pods’ readiness', () => {
    const status = computeStatus(cluster(), { ...sentinelReady, sentinels: { reached: false } }, now);
    expect(status.redis).toEqual({ mode: 'sentinel' });
    expect(condition(status, 'RedisReady')).toMatchObject({ status: 'True', message: expect.stringContaining('could not reach the Sentinels') as unknown });
    const starting = computeStatus(cluster(), { ...sentinelReady, redis: { ...readySet(3), status: { replicas: 3, readyReplicas: 2 } } }, now);
    expect(condition(starting, 'RedisReady')).toMatchObject({ status: 'False', reason: 'PodsNotReady', message: '2/3 Redis pods ready' });
  });

  it('counts the Redis pods the spec asks for, not those of a StatefulSet that has not caught up with a change of mode', () => {
    const status = computeStatus(cluster({ redis: { managed: { mode: 'sentinel' } } }), { ...sentinelReady, redis: readySet(1) }, now);
    expect(condition(status, 'RedisReady')).toMatchObject({ status: 'False', message: '1/3 Redis pods ready' });
  });

  it('is written so that what it no longer says goes: a primary no longer known, the Redis block of a Redis gone external', () => {
    const before = computeStatus(cluster({ redis: { managed: { mode: 'standalone' } } }), { ...allReady, redis: readySet(1), redisMode: 'standalone' }, now);
    const after = computeStatus(cluster(), { ...sentinelReady, sentinels: { reached: false } }, now);
    expect(statusPatch(before, after)).toMatchObject({ redis: { mode: 'sentinel', primary: null }, phase: 'Ready' });
    const external = { ...after };
    delete external.redis;
    expect(statusPatch(before, external)).toMatchObject({ redis: null });
    expect(statusPatch(undefined, after)).toEqual(after);
  });

  it('shows a standalone Redis’s one pod as its primary once it is ready, and nothing for an external Redis', () => {
    const standalone = cluster({ redis: { managed: { mode: 'standalone' } } });
    expect(computeStatus(standalone, { ...allReady, redis: readySet(1), redisMode: 'standalone' }, now).redis).toEqual({ mode: 'standalone', primary: 'demo-redis-0' });
    expect(computeStatus(standalone, { ...allReady, redis: undefined, redisMode: 'standalone' }, now).redis).toEqual({ mode: 'standalone' });
    expect(computeStatus(cluster({ redis: { external: { url: 'redis+sentinel://s:26379/m' } } }), { ...allReady, redis: undefined }, now)).not.toHaveProperty('redis');
  });
});
