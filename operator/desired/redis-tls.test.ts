import type { KubernetesObject, V1ConfigMap, V1Container, V1Deployment, V1Job, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ChatCluster } from '../../common/chatcluster.js';
import { desiredRedis } from './redis.js';
import { withResolvedRedis } from './redis-mode.js';
import { appliedObjects, chatClusterOf } from '../../test/support/chatcluster-fixture.js';

function cluster(spec: unknown): ChatCluster {
  return withResolvedRedis(chatClusterOf(spec), undefined);
}

const SELF_SIGNED = { tls: { selfSigned: true } };

function objects(spec: unknown): KubernetesObject[] {
  return appliedObjects(cluster(spec));
}

function containers(spec: unknown): Record<string, V1Container> {
  const statefulSet = desiredRedis(cluster(spec))?.statefulSet as V1StatefulSet;
  return Object.fromEntries((statefulSet.spec?.template.spec?.containers ?? []).map((container) => [container.name, container]));
}

const script = (container: V1Container | undefined): string => container?.command?.[2] ?? '';

describe('the managed Redis with the ChatCluster’s certificate', () => {
  it('runs Redis and Sentinel on TLS only (port 0), TLS between them, with <name>-tls mounted in both containers', () => {
    const { redis, sentinel } = containers(SELF_SIGNED);
    for (const line of ['port 0', 'tls-port 6379', 'tls-cert-file /etc/redis/tls/tls.crt', 'tls-key-file /etc/redis/tls/tls.key', 'tls-ca-cert-file /etc/redis/tls/ca.crt', 'tls-replication yes', 'tls-auth-clients no']) {
      expect(script(redis)).toContain(`echo "${line}"`);
    }
    for (const line of ['port 0', 'tls-port 26379', 'tls-replication yes']) expect(script(sentinel)).toContain(`\n${line}\n`);
    const volumes = (desiredRedis(cluster(SELF_SIGNED))?.statefulSet.spec?.template.spec?.volumes ?? []);
    expect(volumes).toContainEqual({ name: 'tls', secret: { secretName: 'demo-tls', defaultMode: 0o440 } });
    for (const container of [redis, sentinel]) expect(container?.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/redis/tls', readOnly: true });
  });

  it('asks and probes over TLS: every redis-cli of the scripts and probes has the CA', () => {
    const { redis, sentinel } = containers(SELF_SIGNED);
    const handOver = redis?.lifecycle?.preStop?.exec?.command?.[2] ?? '';
    for (const text of [script(redis), script(sentinel), handOver]) {
      const calls = text.split('\n').filter((line) => line.includes('redis-cli'));
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) expect(call).toContain('redis-cli --tls --cacert /etc/redis/tls/ca.crt');
    }
    expect(redis?.readinessProbe?.exec?.command).toEqual(['sh', '-c', 'redis-cli --tls --cacert /etc/redis/tls/ca.crt ping']);
    expect(sentinel?.readinessProbe?.exec?.command).toEqual(['sh', '-c', 'redis-cli --tls --cacert /etc/redis/tls/ca.crt -p 26379 ping']);
  });

  it('loads a renewed certificate: Redis by CONFIG SET in a loop, Sentinel by a liveness check that restarts it', () => {
    const { redis, sentinel } = containers(SELF_SIGNED);
    expect(script(redis)).toMatch(/CONFIG SET tls-cert-file \/etc\/redis\/tls\/tls.crt tls-key-file \/etc\/redis\/tls\/tls.key[^\n]*\n[\s\S]*\) &\nexec redis-server/);
    expect(script(sentinel)).toContain('cksum < /etc/redis/tls/tls.crt > /data/sentinel-certificate.cksum\nexec redis-server');
    expect(sentinel?.livenessProbe?.exec?.command?.[2]).toBe('[ "$(cksum < /etc/redis/tls/tls.crt)" = "$(cat /data/sentinel-certificate.cksum)" ]');
  });

  it('runs a standalone Redis with the same settings as flags', () => {
    const { redis } = containers({ ...SELF_SIGNED, redis: { managed: { mode: 'standalone' } } });
    expect(script(redis)).toContain('exec redis-server --appendonly yes --dir /data --protected-mode no --port 0 --tls-port 6379 --tls-cert-file /etc/redis/tls/tls.crt');
    expect(script(redis)).toContain('--tls-replication yes');
    expect(redis?.args).toBeUndefined();
  });

  it('points every chat container at rediss:// with the CA from <name>-tls', () => {
    const all = objects(SELF_SIGNED);
    expect((all.find((object) => object.kind === 'ConfigMap') as V1ConfigMap).data?.CHAT_REDIS_URL).toMatch(/^rediss\+sentinel:\/\/demo-redis-0\.demo-redis\.team-a\.svc:26379,/);
    const standalone = objects({ ...SELF_SIGNED, redis: { managed: { mode: 'standalone' } } });
    expect((standalone.find((object) => object.kind === 'ConfigMap') as V1ConfigMap).data?.CHAT_REDIS_URL).toBe('rediss://demo-redis.team-a.svc:6379');
    expect((standalone.find((object) => object.kind === 'Deployment') as V1Deployment).spec?.template.spec?.containers[0]?.env?.map((variable) => variable.name)).not.toContain('CHAT_REDIS_SENTINEL_TLS');
    for (const kind of ['Deployment', 'Job']) {
      const pod = (all.find((object) => object.kind === kind) as V1Deployment | V1Job).spec?.template.spec;
      expect(pod?.containers[0]?.env).toContainEqual({ name: 'CHAT_REDIS_CA_FILE', value: '/etc/chat/redis-ca/ca.crt' });
      // The Sentinels too are TLS-only: the node must ask them over TLS.
      expect(pod?.containers[0]?.env).toContainEqual({ name: 'CHAT_REDIS_SENTINEL_TLS', value: 'true' });
      expect(pod?.volumes).toContainEqual({ name: 'redis-ca', secret: { secretName: 'demo-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    }
  });

  it('speaks TLS from <name>-tls with a certificate of the user’s own too (the operator signs <name>-tls for the stores)', () => {
    const spec = { tls: { secretName: 'public-cert' } };
    const { redis } = containers(spec);
    expect(script(redis)).toContain('echo "tls-cert-file /etc/redis/tls/tls.crt"');
    expect(desiredRedis(cluster(spec))?.statefulSet.spec?.template.spec?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'demo-tls', defaultMode: 0o440 } });
    const node = (objects(spec).find((object) => object.kind === 'Deployment') as V1Deployment).spec?.template.spec;
    expect(node?.volumes).toContainEqual({ name: 'redis-ca', secret: { secretName: 'demo-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    // The public port still serves the user's certificate.
    expect(node?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'public-cert', defaultMode: 0o440 } });
  });

  it('stays plaintext without spec.tls', () => {
    const { redis, sentinel } = containers({});
    expect(script(redis)).toContain('echo "port 6379"');
    expect(script(redis)).not.toContain('tls');
    expect(sentinel?.livenessProbe).toEqual({ tcpSocket: { port: 'sentinel' }, periodSeconds: 10 });
    expect((objects({}).find((object) => object.kind === 'ConfigMap') as V1ConfigMap).data?.CHAT_REDIS_URL).toMatch(/^redis\+sentinel:\/\//);
  });
});
