import type { V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { desiredRedis } from './redis.js';
import { resolveManagedRedis, resolveRedisMode, withResolvedRedis } from './redis-mode.js';
import { chatClusterOf } from '../../test/support/chatcluster-fixture.js';

const cluster = chatClusterOf;

/** The StatefulSet each mode makes, as if it were running. */
const runningStandalone = desiredRedis(cluster({ redis: { managed: { mode: 'standalone' } } }))?.statefulSet as V1StatefulSet;
const runningSentinel = desiredRedis(cluster({ redis: { managed: { mode: 'sentinel' } } }))?.statefulSet as V1StatefulSet;
/** The StatefulSet of the operator before modes: one redis container, nothing else. */
const runningBeforeModes: V1StatefulSet = { spec: { serviceName: 'demo-redis', selector: {}, template: { spec: { containers: [{ name: 'redis' }] } } } };

describe('the managed Redis’s mode', () => {
  it('is sentinel for a new cluster that names none', () => {
    expect(resolveRedisMode({ storage: '1Gi' }, undefined)).toBe('sentinel');
    expect(resolveManagedRedis(cluster())).toMatchObject({ mode: 'sentinel', replicas: 3 });
  });

  it('stays standalone for a cluster already running a single Redis, so an operator upgrade restructures nothing', () => {
    expect(resolveRedisMode({ storage: '1Gi' }, runningBeforeModes)).toBe('standalone');
    expect(resolveRedisMode({ storage: '1Gi' }, runningStandalone)).toBe('standalone');
    expect(resolveRedisMode({ storage: '1Gi' }, runningSentinel)).toBe('sentinel');
  });

  it('follows replicas when the spec names no mode: 1 is standalone (what every cluster created before modes stored), more is sentinel', () => {
    expect(resolveRedisMode({ storage: '1Gi', replicas: 1 }, undefined)).toBe('standalone');
    expect(resolveRedisMode({ storage: '1Gi', replicas: 5 }, runningBeforeModes)).toBe('sentinel');
  });

  it('is the spec’s when it names one, whatever runs', () => {
    expect(resolveRedisMode({ storage: '1Gi', mode: 'sentinel' }, runningBeforeModes)).toBe('sentinel');
    expect(resolveRedisMode({ storage: '1Gi', mode: 'standalone' }, runningSentinel)).toBe('standalone');
  });

  it('gives each mode its replicas when the spec names none, and keeps the spec’s', () => {
    expect(resolveManagedRedis(cluster({ redis: { managed: { mode: 'standalone' } } }))).toMatchObject({ mode: 'standalone', replicas: 1 });
    expect(resolveManagedRedis(cluster({ redis: { managed: { mode: 'sentinel', replicas: 5 } } }))).toMatchObject({ mode: 'sentinel', replicas: 5 });
    expect(resolveManagedRedis(cluster({ redis: { external: { url: 'redis://r:6379' } } }))).toBeUndefined();
  });

  it('is written into the cluster the desired objects are made from, never into anything else', () => {
    const stored = cluster();
    const resolved = withResolvedRedis(stored, runningBeforeModes);
    expect(resolved.spec.redis.managed).toMatchObject({ mode: 'standalone', replicas: 1, storage: '1Gi' });
    expect(stored.spec.redis.managed).toEqual({ storage: '1Gi' });
    expect(desiredRedis(resolved)?.statefulSet.spec?.replicas).toBe(1);
  });
});
