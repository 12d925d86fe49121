/**
 * The ChatCluster CRD (crds/chatcluster.yaml) on a real API server: the defaults it fills
 * in are the operator's (parseChatClusterSpec), a bad spec is refused with the path of
 * the field at fault, and the scale subresource and printer columns work with kubectl.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHATCLUSTER_GROUP,
  CHATCLUSTER_KIND,
  CHATCLUSTER_API_VERSION,
  CHATCLUSTER_PLURAL,
  CHATCLUSTER_VERSION,
  parseChatClusterSpec,
  type ChatClusterStatus,
} from '../../common/chatcluster.js';
import { testEnvironment } from '../support/env.js';
import { adminKubeConfig, createTestNamespace } from '../support/kubernetes.js';
import { installChatClusterCrd } from '../support/operator-chatclusters.js';

const RESOURCE = { group: CHATCLUSTER_GROUP, version: CHATCLUSTER_VERSION, plural: CHATCLUSTER_PLURAL };
const run = promisify(execFile);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface StoredChatCluster {
  metadata: { name: string; generation: number };
  spec: Record<string, unknown>;
  status?: ChatClusterStatus;
}

interface Refusal {
  code: number;
  message: string;
  /** The fields the API server names in `details.causes`. */
  fields: string[];
}

function chatCluster(name: string, spec: unknown): object {
  return { apiVersion: CHATCLUSTER_API_VERSION, kind: CHATCLUSTER_KIND, metadata: { name }, spec };
}

/** The API server's answer to a call that must fail: HTTP status, message and the fields it names. */
async function refusalOf(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const status = JSON.parse(String(error.body)) as { message?: string; details?: { causes?: { field?: string }[] } };
    const fields = (status.details?.causes ?? []).flatMap((cause) => (cause.field === undefined ? [] : [cause.field]));
    return { code: error.code, message: status.message ?? '', fields };
  }
  throw new Error('the API server accepted what it should have refused');
}

interface InvalidSpec {
  what: string;
  spec: unknown;
  /** The path the API server must name, in its message and in `details.causes`. */
  field: string;
  /** A part of the message that says what is wrong. */
  says: string;
}

const externalRedis = { url: 'redis://redis.example:6379' };
const externalCassandra = { contactPoints: ['cassandra.example:9042'] };
const secretRef = { name: 'chat-secrets', key: 'jwt' };

const tlsSecret = { secretName: 'demo-tls' };
const issuerRef = { name: 'letsencrypt', kind: 'ClusterIssuer' };

/** spec.tls, spec.encryption and the external CA bundles (issue 15). */
const INVALID_ENCRYPTION_SPECS: InvalidSpec[] = [
  { what: 'tls with no source', spec: { tls: {} }, field: 'spec.tls', says: 'tls needs exactly one of tls.secretName, tls.issuerRef or tls.selfSigned' },
  { what: 'tls from a Secret and self-signed', spec: { tls: { ...tlsSecret, selfSigned: true } }, field: 'spec.tls', says: 'tls needs exactly one of' },
  { what: 'tls from a Secret and an issuer', spec: { tls: { ...tlsSecret, issuerRef } }, field: 'spec.tls', says: 'tls needs exactly one of' },
  { what: 'tls.selfSigned false', spec: { tls: { selfSigned: false } }, field: 'spec.tls.selfSigned', says: 'tls.selfSigned can only be true' },
  { what: 'an empty tls.secretName', spec: { tls: { secretName: '' } }, field: 'spec.tls.secretName', says: 'should be at least 1 chars long' },
  { what: 'tls.dnsNames with a certificate of the user’s own', spec: { tls: { ...tlsSecret, dnsNames: ['chat.example.com'] } }, field: 'spec.tls.dnsNames', says: 'with tls.secretName your certificate says its names' },
  { what: 'a tls.dnsNames entry that is no DNS name', spec: { tls: { selfSigned: true, dnsNames: ['https://chat.example.com'] } }, field: 'spec.tls.dnsNames[0]', says: 'should match' },
  { what: 'an issuer of a kind cert-manager does not have', spec: { tls: { issuerRef: { name: 'x', kind: 'Certificate' } } }, field: 'spec.tls.issuerRef.kind', says: 'Unsupported value: "Certificate"' },
  { what: 'an issuer without a name', spec: { tls: { issuerRef: { kind: 'Issuer' } } }, field: 'spec.tls.issuerRef.name', says: 'Required value' },
  { what: 'at-rest encryption without a keys Secret', spec: { encryption: { atRest: {} } }, field: 'spec.encryption.atRest.keysSecretRef', says: 'Required value' },
  { what: 'an at-rest keys Secret without a name', spec: { encryption: { atRest: { keysSecretRef: {} } } }, field: 'spec.encryption.atRest.keysSecretRef.name', says: 'Required value' },
  {
    what: 'a Redis CA bundle for a plaintext redis:// URL',
    spec: { redis: { external: { url: 'redis://redis.example:6379', caSecretRef: { name: 'redis-ca', key: 'ca.crt' } } } },
    field: 'spec.redis.external.caSecretRef',
    says: 'redis.external.caSecretRef needs a TLS URL',
  },
  { what: 'a Redis CA bundle without a key', spec: { redis: { external: { url: 'rediss://r:6380', caSecretRef: { name: 'redis-ca' } } } }, field: 'spec.redis.external.caSecretRef.key', says: 'Required value' },
  {
    what: 'a Cassandra CA bundle with Cassandra TLS turned off',
    spec: { cassandra: { external: { contactPoints: ['c:9042'], tls: { enabled: false, caSecretRef: { name: 'cassandra-ca', key: 'ca.crt' } } } } },
    field: 'spec.cassandra.external.tls.caSecretRef',
    says: 'cassandra.external.tls.caSecretRef needs cassandra.external.tls.enabled true',
  },
];

const INVALID_SPECS: InvalidSpec[] = [
  { what: 'replicas of the wrong type', spec: { replicas: 'three' }, field: 'spec.replicas', says: 'must be of type integer' },
  { what: 'more replicas than 1000', spec: { replicas: 1001 }, field: 'spec.replicas', says: 'should be less than or equal to 1000' },
  { what: 'negative replicas', spec: { replicas: -1 }, field: 'spec.replicas', says: 'should be greater than or equal to 0' },
  { what: 'autoscaling.enabled that is not a boolean', spec: { autoscaling: { enabled: 'yes' } }, field: 'spec.autoscaling.enabled', says: 'must be of type boolean' },
  {
    what: 'autoscaling.minReplicas above maxReplicas',
    spec: { autoscaling: { minReplicas: 10, maxReplicas: 5 } },
    field: 'spec.autoscaling.minReplicas',
    says: 'autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas',
  },
  { what: 'autoscaling.minReplicas of 0', spec: { autoscaling: { minReplicas: 0 } }, field: 'spec.autoscaling.minReplicas', says: 'should be greater than or equal to 1' },
  { what: 'a CPU target above 100 %', spec: { autoscaling: { targetCPUUtilization: 101 } }, field: 'spec.autoscaling.targetCPUUtilization', says: 'should be less than or equal to 100' },
  {
    what: 'a standalone managed Redis of 3 replicas',
    spec: { redis: { managed: { mode: 'standalone', replicas: 3 } } },
    field: 'spec.redis.managed.replicas',
    says: 'redis.managed.replicas must be 1 with redis.managed.mode standalone',
  },
  {
    what: 'a Sentinel managed Redis of 1 replica',
    spec: { redis: { managed: { mode: 'sentinel', replicas: 1 } } },
    field: 'spec.redis.managed.replicas',
    says: 'redis.managed.replicas must be at least 3 with redis.managed.mode sentinel',
  },
  { what: 'a managed Redis of an even number of replicas', spec: { redis: { managed: { replicas: 4 } } }, field: 'spec.redis.managed.replicas', says: 'an odd number of at least 3' },
  { what: 'a managed Redis mode that does not exist', spec: { redis: { managed: { mode: 'cluster' } } }, field: 'spec.redis.managed.mode', says: 'Unsupported value: "cluster"' },
  { what: 'both a managed and an external Redis', spec: { redis: { managed: {}, external: externalRedis } }, field: 'spec.redis.external', says: 'redis.managed and redis.external are mutually exclusive' },
  { what: 'neither a managed nor an external Redis', spec: { redis: {} }, field: 'spec.redis', says: 'exactly one of redis.managed or redis.external is required' },
  { what: 'an external Redis URL that is not redis://', spec: { redis: { external: { url: 'http://redis:6379' } } }, field: 'spec.redis.external.url', says: 'should match' },
  { what: 'an external Redis without a URL', spec: { redis: { external: {} } }, field: 'spec.redis.external.url', says: 'Required value' },
  { what: 'a storage size that is not a quantity', spec: { redis: { managed: { storage: 'lots' } } }, field: 'spec.redis.managed.storage', says: 'should match' },
  { what: 'a storage size with the unknown suffix K', spec: { redis: { managed: { storage: '1K' } } }, field: 'spec.redis.managed.storage', says: 'should match' },
  { what: 'a fractional number as a storage size', spec: { cassandra: { managed: { storage: 0.5 } } }, field: 'spec.cassandra.managed.storage', says: 'must be of type integer' },
  {
    what: 'both a managed and an external Cassandra',
    spec: { cassandra: { managed: {}, external: externalCassandra } },
    field: 'spec.cassandra.external',
    says: 'cassandra.managed and cassandra.external are mutually exclusive',
  },
  { what: 'neither a managed nor an external Cassandra', spec: { cassandra: { keyspace: 'chat' } }, field: 'spec.cassandra', says: 'exactly one of cassandra.managed or cassandra.external is required' },
  {
    what: 'a replication factor above the Cassandra replicas (the default factor, 3, on 1 replica)',
    spec: { cassandra: { managed: { replicas: 1 } } },
    field: 'spec.cassandra.managed.replicationFactor',
    says: 'cassandra.managed.replicationFactor (default 3) must be less than or equal to cassandra.managed.replicas',
  },
  {
    what: 'a Cassandra timer slack above 10 ms',
    spec: { cassandra: { managed: { replicas: 3, timerSlackMicroseconds: 10_001 } } },
    field: 'spec.cassandra.managed.timerSlackMicroseconds',
    says: 'should be less than or equal to 10000',
  },
  { what: 'an empty list of Cassandra contact points', spec: { cassandra: { external: { contactPoints: [] } } }, field: 'spec.cassandra.external.contactPoints', says: 'should have at least 1 items' },
  { what: 'a contact point with a space in it', spec: { cassandra: { external: { contactPoints: ['cassandra 1:9042'] } } }, field: 'spec.cassandra.external.contactPoints[0]', says: 'should match' },
  { what: 'the same contact point twice', spec: { cassandra: { external: { contactPoints: ['c1:9042', 'c1:9042'] } } }, field: 'spec.cassandra.external.contactPoints[1]', says: 'Duplicate value' },
  { what: 'a keyspace with a dash', spec: { cassandra: { managed: {}, keyspace: 'chat-prod' } }, field: 'spec.cassandra.keyspace', says: 'should match' },
  { what: 'both auth methods', spec: { auth: { jwtSecretRef: secretRef, jwksURL: 'https://issuer.example/jwks.json' } }, field: 'spec.auth.jwksURL', says: 'auth.jwtSecretRef and auth.jwksURL are mutually exclusive' },
  { what: 'a JWKS URL that is not http(s)', spec: { auth: { jwksURL: 'ftp://issuer.example/jwks.json' } }, field: 'spec.auth.jwksURL', says: 'should match' },
  { what: 'a secret reference without a key', spec: { auth: { jwtSecretRef: { name: 'chat-secrets' } } }, field: 'spec.auth.jwtSecretRef.key', says: 'Required value' },
  { what: 'a frame limit under 1 KiB', spec: { limits: { maxFrameBytes: 512 } }, field: 'spec.limits.maxFrameBytes', says: 'should be greater than or equal to 1024' },
  { what: 'a Service type the operator does not make', spec: { service: { type: 'ExternalName' } }, field: 'spec.service.type', says: 'Unsupported value: "ExternalName"' },
  { what: 'a Service annotation that is not a string', spec: { service: { annotations: { 'example.com/weight': 1 } } }, field: 'spec.service.annotations.example.com/weight', says: 'must be of type string' },
  { what: 'serviceMonitor written as a YAML boolean', spec: { monitoring: { serviceMonitor: true } }, field: 'spec.monitoring.serviceMonitor', says: 'must be of type string' },
  { what: 'an empty image', spec: { image: '' }, field: 'spec.image', says: 'should be at least 1 chars long' },
  { what: 'a CPU limit that is not a quantity', spec: { resources: { limits: { cpu: '2 cores' } } }, field: 'spec.resources.limits.cpu', says: 'should match' },
  { what: 'tolerations that are not a list', spec: { podTemplate: { tolerations: 'all' } }, field: 'spec.podTemplate.tolerations', says: 'must be of type array' },
  ...INVALID_ENCRYPTION_SPECS,
];

describe('the ChatCluster CRD on the API server', () => {
  const env = testEnvironment();
  let admin: KubeConfig;
  let customObjects: CustomObjectsApi;
  let namespace: { name: string; delete(): Promise<void> };

  const create = (name: string, spec: unknown, fieldValidation?: string) =>
    customObjects.createNamespacedCustomObject({ ...RESOURCE, namespace: namespace.name, body: chatCluster(name, spec), fieldValidation }) as Promise<StoredChatCluster>;
  const read = (name: string) => customObjects.getNamespacedCustomObject({ ...RESOURCE, namespace: namespace.name, name }) as Promise<StoredChatCluster>;
  const kubectl = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('kubectl', [...args, '--namespace', namespace.name], { env: env.processEnv });
    return stdout;
  };

  beforeAll(async () => {
    admin = adminKubeConfig(env);
    customObjects = admin.makeApiClient(CustomObjectsApi);
    namespace = await createTestNamespace(admin, 'crd');
    await installChatClusterCrd(admin, env.processEnv, namespace.name);
  });
  afterAll(async () => {
    // The CRD stays: other test files of the run share it.
    await namespace.delete();
  });

  describe('defaults', () => {
    it('fills in an empty spec exactly as the operator’s parseChatClusterSpec({}) does', async () => {
      const created = await create('demo', {});
      expect(created.spec).toEqual(parseChatClusterSpec({}));
      expect((await read('demo')).spec).toEqual(parseChatClusterSpec({}));
    });

    it('fills in a resource written without a spec at all', async () => {
      const created = (await customObjects.createNamespacedCustomObject({
        ...RESOURCE,
        namespace: namespace.name,
        body: { apiVersion: CHATCLUSTER_API_VERSION, kind: CHATCLUSTER_KIND, metadata: { name: 'no-spec' } },
      })) as StoredChatCluster;
      expect(created.spec).toEqual(parseChatClusterSpec(undefined));
    });

    it('fills in the fields left out of a partly written spec as the operator does, nested objects included', async () => {
      const spec = {
        replicas: 7,
        autoscaling: { enabled: false },
        redis: { external: { url: 'rediss://redis.example:6380', secretRef } },
        cassandra: { external: { contactPoints: ['c1.example:9042', 'c2.example'] } },
        auth: { jwksURL: 'https://issuer.example/.well-known/jwks.json' },
        limits: { maxFrameBytes: 1_048_576 },
        service: { type: 'LoadBalancer' },
        resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: 2 } },
        podTemplate: {
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'chat', effect: 'NoSchedule' }],
          affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
        },
        monitoring: { serviceMonitor: 'false' },
      };
      const created = await create('partial', spec);
      expect(created.spec).toEqual(parseChatClusterSpec(spec));
      expect(created.spec).toMatchObject({ cassandra: { external: { datacenter: 'datacenter1' }, keyspace: 'chat' }, service: { annotations: {} } });
    });
  });

  describe('validation', () => {
    it('refuses at least 15 kinds of bad spec', () => {
      expect(INVALID_SPECS.length).toBeGreaterThanOrEqual(15);
    });

    it.each(INVALID_SPECS.map((invalid, index) => ({ ...invalid, name: `invalid-${index}` })))('refuses $what (422, naming $field)', async ({ name, spec, field, says }) => {
      const refusal = await refusalOf(create(name, spec));
      expect(refusal.code).toBe(422);
      expect(refusal.message).toContain(`${field}: `);
      expect(refusal.message).toContain(says);
      expect(refusal.fields).toContain(field);
    });

    it('takes an external Redis as one server, Sentinels or Cluster seeds, with or without TLS', async () => {
      const urls = [
        'redis://redis.example:6379/0',
        'rediss://user:secret@redis.example:6380',
        'redis+sentinel://s1.example:26379,s2.example:26379,s3.example:26379/chat?sentinelPassword=p%40ss',
        'rediss+sentinel://s1.example:26379/chat',
        'redis+cluster://c1.example:6379,c2.example:6379',
        'rediss+cluster://user:secret@c1.example:6380',
      ];
      for (const [index, url] of urls.entries()) {
        const created = await create(`external-redis-${String(index)}`, { redis: { external: { url } } });
        expect(created.spec.redis).toEqual({ external: { url } });
      }
    });

    it('stores each TLS source and the at-rest keys as written, and the operator reads them back', async () => {
      const specs = [
        { tls: tlsSecret },
        { tls: { issuerRef } },
        { tls: { issuerRef: { name: 'vault', kind: 'Issuer', group: 'cert-manager.io' } } },
        { tls: { selfSigned: true }, encryption: { atRest: { keysSecretRef: { name: 'demo-keys' } } } },
      ];
      for (const [index, spec] of specs.entries()) {
        const created = await create(`tls-${String(index)}`, spec);
        expect(created.spec).toMatchObject(spec);
        expect(parseChatClusterSpec(created.spec)).toMatchObject(spec);
      }
    });

    it('takes CA bundles for an external Redis (rediss://, or a URL kept in a Secret) and Cassandra, turning Cassandra TLS on by default', async () => {
      const caSecretRef = { name: 'ca', key: 'ca.crt' };
      const spec = {
        redis: { external: { url: 'rediss+sentinel://s1.example:26379/chat', caSecretRef } },
        cassandra: { external: { contactPoints: ['c1.example:9042'], tls: { caSecretRef } } },
      };
      const created = await create('external-tls', spec);
      expect(created.spec.redis).toEqual(spec.redis);
      expect(created.spec.cassandra).toMatchObject({ external: { tls: { enabled: true, caSecretRef } } });
      const read = parseChatClusterSpec(created.spec);
      expect(read.redis.external?.caSecretRef).toEqual(caSecretRef);
      expect(read.cassandra.external?.tls).toEqual({ enabled: true, caSecretRef });
      // The URL in a Secret cannot be checked by the API server: the CA is taken with it.
      const inSecret = await create('external-tls-secret', { redis: { external: { url: 'redis://placeholder', secretRef, caSecretRef } } });
      expect(inSecret.spec.redis).toMatchObject({ external: { caSecretRef } });
    });

    it('stores a managed Redis with no mode and no replicas as written: the operator decides them, not a default', async () => {
      expect((await create('redis-unset', {})).spec.redis).toEqual({ managed: { storage: '1Gi' } });
      expect((await create('redis-sentinel-5', { redis: { managed: { mode: 'sentinel', replicas: 5 } } })).spec.redis).toEqual({ managed: { mode: 'sentinel', replicas: 5, storage: '1Gi' } });
    });

    it('prunes unknown fields (structural schema) by default, and refuses them under strict field validation', async () => {
      const spec = { replicas: 4, colour: 'blue', autoscaling: { enabled: false, speed: 'fast' } };
      const created = await create('pruned', spec);
      expect(created.spec).not.toHaveProperty('colour');
      expect(created.spec.autoscaling).not.toHaveProperty('speed');
      expect(created.spec).toEqual(parseChatClusterSpec({ replicas: 4, autoscaling: { enabled: false } }));

      const refusal = await refusalOf(create('strict', spec, 'Strict'));
      expect(refusal.code).toBe(400);
      expect(refusal.message).toContain('unknown field "spec.colour"');
      expect(refusal.message).toContain('unknown field "spec.autoscaling.speed"');
    });

    it('keeps the objects passed through to the pod spec as written, unknown fields and all', async () => {
      const podTemplate = { affinity: { nodeAffinity: { anything: { nested: [1, 'two'] } } }, tolerations: [{ operator: 'Exists', futureField: true }] };
      const created = await create('pass-through', { podTemplate });
      expect(created.spec.podTemplate).toEqual(podTemplate);
    });

    it('refuses switching a defaulted managed Redis to an external one until managed is removed', async () => {
      await create('switch', {});
      const patch = (redis: object) =>
        customObjects.patchNamespacedCustomObject({ ...RESOURCE, namespace: namespace.name, name: 'switch', body: { spec: { redis } } }, mergePatch) as Promise<StoredChatCluster>;
      const refusal = await refusalOf(patch({ external: externalRedis }));
      expect(refusal.code).toBe(422);
      expect(refusal.message).toContain('spec.redis.external: ');
      expect(refusal.message).toContain('remove redis.managed');
      const switched = await patch({ managed: null, external: externalRedis });
      expect(switched.spec.redis).toEqual({ external: externalRedis });
    });

    it('refuses a tls.secretName that names a Secret the operator writes for this ChatCluster (<name>-tls, <name>-ca)', async () => {
      for (const secretName of ['mine-tls', 'mine-ca']) {
        const refusal = await refusalOf(create('mine', { tls: { secretName } }));
        expect(refusal.code).toBe(422);
        expect(refusal.message).toContain('spec.tls.secretName: ');
        expect(refusal.message).toContain('the operator writes those Secrets');
        expect(refusal.fields).toContain('spec.tls.secretName');
      }
      // Another ChatCluster's names are not this one's.
      expect((await create('theirs', { tls: { secretName: 'mine-tls' } })).spec.tls).toEqual({ secretName: 'mine-tls' });
    });

    it('refuses changes a running cluster cannot take in place, and takes the ones it can', async () => {
      await create('settled', {});
      const patch = (spec: object) => customObjects.patchNamespacedCustomObject({ ...RESOURCE, namespace: namespace.name, name: 'settled', body: { spec } }, mergePatch) as Promise<StoredChatCluster>;
      const refused = [
        { spec: { redis: { managed: { storage: '2Gi' } } }, field: 'spec.redis.managed.storage', says: 'volume claims cannot change in place' },
        { spec: { cassandra: { managed: { storage: '20Gi' } } }, field: 'spec.cassandra.managed.storage', says: 'volume claims cannot change in place' },
        { spec: { cassandra: { managed: { replicas: 2, replicationFactor: 2 } } }, field: 'spec.cassandra.managed.replicas', says: 'does not decommission' },
        { spec: { cassandra: { managed: { replicas: 5, replicationFactor: 5 } } }, field: 'spec.cassandra.managed.replicationFactor', says: 'ALTER KEYSPACE' },
        { spec: { cassandra: { keyspace: 'chat2' } }, field: 'spec.cassandra.keyspace', says: 'new, empty keyspace' },
      ];
      for (const { spec, field, says } of refused) {
        const refusal = await refusalOf(patch(spec));
        expect(refusal.code, field).toBe(422);
        expect(refusal.message, field).toContain(`${field}: `);
        expect(refusal.message, field).toContain(says);
      }
      const grown = await patch({ cassandra: { managed: { replicas: 5 } }, redis: { managed: { resources: { requests: { memory: '256Mi' } } } } });
      expect(grown.spec.cassandra).toMatchObject({ managed: { replicas: 5, replicationFactor: 3, storage: '10Gi' }, keyspace: 'chat' });
    });
  });

  describe('status and scale subresources, and kubectl', () => {
    const selector = 'app.kubernetes.io/instance=scaled,app.kubernetes.io/name=chatcluster';
    const status: ChatClusterStatus = {
      observedGeneration: 2,
      phase: 'Ready',
      conditions: [
        { type: 'Ready', status: 'True', reason: 'NodesReady', message: '5 of 5 nodes ready', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 2 },
      ],
      replicas: 5,
      readyReplicas: 5,
      connections: 1234,
      selector,
      endpoint: 'scaled-chat.ns.svc:8080',
    };
    const readScale = () => customObjects.getNamespacedCustomObjectScale({ ...RESOURCE, namespace: namespace.name, name: 'scaled' }) as Promise<{ spec?: { replicas?: number }; status?: { replicas?: number; selector?: string } }>;
    const writeStatus = (body: object) =>
      customObjects.patchNamespacedCustomObjectStatus({ ...RESOURCE, namespace: namespace.name, name: 'scaled', body }, mergePatch) as Promise<StoredChatCluster>;

    beforeAll(async () => {
      await create('scaled', { autoscaling: { enabled: false } });
    });

    it('`kubectl scale chat/<name> --replicas=5` sets spec.replicas to 5', async () => {
      expect(await kubectl('scale', 'chat/scaled', '--replicas=5')).toContain('chatcluster.chatcluster.dev/scaled scaled');
      expect((await read('scaled')).spec.replicas).toBe(5);
      const scale = await readScale();
      expect(scale.spec?.replicas).toBe(5);
      expect(scale.status?.selector ?? '').toBe('');
    });

    it('refuses a scale beyond the spec’s maximum, naming spec.replicas', async () => {
      const failure = run('kubectl', ['scale', 'chat/scaled', '--replicas=1001', '--namespace', namespace.name], { env: env.processEnv });
      await expect(failure).rejects.toMatchObject({ stderr: expect.stringContaining('spec.replicas: Invalid value: 1001') as unknown });
    });

    it('takes status only through the status subresource, and the scale subresource reports its replicas and selector', async () => {
      // A status written with the main resource is ignored...
      await customObjects.patchNamespacedCustomObject({ ...RESOURCE, namespace: namespace.name, name: 'scaled', body: { status: { replicas: 99 } } }, mergePatch);
      expect((await read('scaled')).status?.replicas).toBeUndefined();
      // ...and stored when written to /status.
      const written = await writeStatus({ status });
      expect(written.status).toEqual(status);
      expect(written.spec.replicas).toBe(5);

      const scale = await readScale();
      expect(scale.status).toEqual({ replicas: 5, selector });
      expect(scale.spec?.replicas).toBe(5);
    });

    it('refuses a status outside its schema (an unknown phase or condition type)', async () => {
      const badPhase = await refusalOf(writeStatus({ status: { phase: 'Exploded' } }));
      expect(badPhase.code).toBe(422);
      expect(badPhase.message).toContain('status.phase: Unsupported value: "Exploded"');
      const badCondition = await refusalOf(
        writeStatus({ status: { conditions: [{ type: 'Happy', status: 'True', reason: 'R', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }] } }),
      );
      expect(badCondition.code).toBe(422);
      expect(badCondition.message).toContain('status.conditions[0].type: Unsupported value: "Happy"');
    });

    it('`kubectl get chat` prints the Ready, Phase, Replicas, Connections and Age columns', async () => {
      await writeStatus({ status });
      const lines = (await kubectl('get', 'chat')).trimEnd().split('\n');
      expect(lines[0]?.split(/\s+/)).toEqual(['NAME', 'READY', 'PHASE', 'REPLICAS', 'CONNECTIONS', 'AGE']);
      const row = lines.find((line) => line.startsWith('scaled '));
      expect(row?.split(/\s+/).slice(0, 5)).toEqual(['scaled', 'True', 'Ready', '5', '1234']);
      expect(row?.split(/\s+/)[5]).toMatch(/^\d+[smhd]/);
      // A ChatCluster without a status yet shows empty columns rather than failing.
      expect(lines.find((line) => line.startsWith('demo '))?.split(/\s+/)).toEqual(['demo', expect.stringMatching(/^\d+[smhd]/) as unknown]);
    });
  });
});
