import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { desiredObjects, type DesiredContext } from './objects.js';
import { desiredResealJob, newestKeyVersion, resealOutcome } from './reseal-job.js';
import { chatClusterOf, DESIRED_CONTEXT } from '../../test/support/chatcluster-fixture.js';

const cluster = chatClusterOf;

const AT_REST = { encryption: { atRest: { keysSecretRef: { name: 'chat-keys' } } } };
const context: DesiredContext = { ...DESIRED_CONTEXT, defaultImage: 'chat-node:1' };

describe('the newest at-rest key version', () => {
  it('is the highest vN among the Secret’s keys, by number, ignoring anything else', () => {
    expect(newestKeyVersion(['v1', 'v2', 'v10', 'v9'])).toBe(10);
    expect(newestKeyVersion(['v1', 'readme', 'v0', 'v01', 'V3', '..data'])).toBe(1);
    expect(newestKeyVersion([])).toBeUndefined();
  });
});

describe('the reseal Job', () => {
  it('runs the node image’s reseal with the node’s environment and the keys directory, once per newest version', () => {
    const job = desiredResealJob(cluster(AT_REST), 'chat-node:1', 3);
    expect(job?.metadata?.name).toBe('demo-reseal-v3');
    const pod = job?.spec?.template.spec;
    const container = pod?.containers[0];
    expect(container?.args).toEqual(['reseal']);
    expect(container?.envFrom).toEqual([{ configMapRef: { name: 'demo-chat-config' } }]);
    expect(container?.env).toContainEqual({ name: 'CHAT_AT_REST_KEYS_DIR', value: '/etc/chat/at-rest-keys' });
    expect(container?.env).toContainEqual({ name: 'CHAT_JWT_SECRET', valueFrom: { secretKeyRef: { name: 'demo-chat-jwt', key: 'secret' } } });
    expect(pod?.volumes).toContainEqual({ name: 'at-rest-keys', secret: { secretName: 'chat-keys', defaultMode: 0o440 } });
    // The keys are readable by the group: the Job's pod has the node's fsGroup.
    expect(pod?.securityContext?.fsGroup).toBe(1000);
    // The managed Cassandra admits the schema component's pods.
    expect(job?.metadata?.labels?.['app.kubernetes.io/component']).toBe('schema');
  });

  it('carries the CA bundles to an external Cassandra like the schema Job', () => {
    const spec = { ...AT_REST, cassandra: { external: { contactPoints: ['c:9042'], tls: { caSecretRef: { name: 'ca', key: 'ca.crt' } } } } };
    expect(desiredResealJob(cluster(spec), 'img', 1)?.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: 'CHAT_CASSANDRA_CA_FILE', value: '/etc/chat/cassandra-ca/ca.crt' });
  });

  it('is made only with at-rest encryption, a known version and the schema ready, and created once, never updated', () => {
    expect(desiredResealJob(cluster({}), 'img', 1)).toBeUndefined();
    const created = (spec: unknown, overrides: Partial<DesiredContext>) =>
      desiredObjects(cluster(spec), { ...context, ...overrides }, () => 's').createOnly.filter((object) => object.kind === 'Job') as V1Job[];
    expect(created(AT_REST, { newestKeyVersion: 2 }).map((job) => job.metadata?.name)).toEqual(['demo-reseal-v2']);
    expect(created(AT_REST, { newestKeyVersion: undefined })).toEqual([]);
    expect(created(AT_REST, { newestKeyVersion: 2, schemaReady: false })).toEqual([]);
    expect(desiredObjects(cluster(AT_REST), { ...context, newestKeyVersion: 2 }, () => 's').applied.some((object) => object.metadata?.name === 'demo-reseal-v2')).toBe(false);
  });
});

describe('what a reseal Job’s end tells the user', () => {
  const job = (status: V1Job['status']): V1Job => ({ metadata: { name: 'demo-reseal-v2' }, status });

  it('says older versions may go once it succeeded, to keep them all when it failed, and nothing while it runs', () => {
    expect(resealOutcome(job({ succeeded: 1 }), 2)).toMatchObject({ type: 'Normal', reason: 'Resealed', message: expect.stringContaining('versions below v2 may now be removed') as unknown });
    const failed = resealOutcome(job({ failed: 6, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] }), 2);
    expect(failed).toMatchObject({ type: 'Warning', reason: 'ResealFailed', message: expect.stringContaining('keep every key version') as unknown });
    expect(resealOutcome(job({ active: 1 }), 2)).toBeUndefined();
    expect(resealOutcome(job({ failed: 1, conditions: [{ type: 'Failed', status: 'False' }] }), 2)).toBeUndefined();
  });
});
