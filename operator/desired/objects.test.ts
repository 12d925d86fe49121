import type { KubernetesObject, V1ConfigMap, V1Deployment, V1Job, V1NetworkPolicy, V1PodDisruptionBudget, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ChatCluster } from '../../common/chatcluster.js';
import { desiredObjects, type DesiredContext } from './objects.js';
import { nodeTemplateHash, TEMPLATE_HASH, TERMINATION_GRACE_SECONDS } from './node.js';
import { rolloutMinReadySeconds } from './rollout-pace.js';
import { chatClusterOf, THREE_NODE_CONTEXT } from '../../test/support/chatcluster-fixture.js';

const cluster = (spec: unknown = {}, name = 'demo'): ChatCluster => chatClusterOf(spec, { name });

const context: DesiredContext = THREE_NODE_CONTEXT;

function objectsOf(spec: unknown = {}, overrides: Partial<DesiredContext> = {}) {
  return desiredObjects(cluster(spec), { ...context, ...overrides }, () => 'generated-secret');
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind it expects
function find<T extends KubernetesObject>(objects: KubernetesObject[], kind: string, name?: string): T {
  const found = objects.find((object) => object.kind === kind && (name === undefined || object.metadata?.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''}`);
  return found as T;
}

describe('the objects a minimal ChatCluster yields', () => {
  const { applied, createOnly } = objectsOf();

  it('are every object of the architecture, each labelled and owned by the ChatCluster', () => {
    expect(applied.map((object) => `${object.kind}/${object.metadata?.name ?? ''}`)).toEqual([
      'ConfigMap/demo-chat-config',
      'NetworkPolicy/demo-redis',
      'Service/demo-redis',
      'PodDisruptionBudget/demo-redis',
      'StatefulSet/demo-redis',
      'NetworkPolicy/demo-cassandra',
      'Service/demo-cassandra',
      'PodDisruptionBudget/demo-cassandra',
      'StatefulSet/demo-cassandra',
      expect.stringMatching(/^Job\/demo-schema-[0-9a-f]{10}$/) as unknown as string,
      'Service/demo-chat',
      'Service/demo-chat-nodes',
      'PodDisruptionBudget/demo-chat',
      'NetworkPolicy/demo-chat',
      'Deployment/demo-chat',
    ]);
    expect(createOnly.map((object) => `${object.kind}/${object.metadata?.name ?? ''}`)).toEqual(['Secret/demo-chat-jwt']);
    for (const object of [...applied, ...createOnly]) {
      expect(object.metadata?.namespace).toBe('team-a');
      expect(object.metadata?.ownerReferences).toEqual([
        { apiVersion: 'chatcluster.dev/v1alpha1', kind: 'ChatCluster', name: 'demo', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
      ]);
      expect(object.metadata?.labels).toMatchObject({
        'app.kubernetes.io/name': 'chatcluster',
        'app.kubernetes.io/instance': 'demo',
        'app.kubernetes.io/managed-by': 'chatcluster-operator',
        'app.kubernetes.io/part-of': 'chatcluster',
      });
      expect(['node', 'redis', 'cassandra', 'schema']).toContain(object.metadata?.labels?.['app.kubernetes.io/component']);
    }
  });

  it('configure the nodes for the managed Redis (its Sentinels) and Cassandra', () => {
    expect(find<V1ConfigMap>(applied, 'ConfigMap').data).toMatchObject({
      CHAT_REDIS_URL: 'redis+sentinel://demo-redis-0.demo-redis.team-a.svc:26379,demo-redis-1.demo-redis.team-a.svc:26379,demo-redis-2.demo-redis.team-a.svc:26379/chat',
      CHAT_CASSANDRA_CONTACT_POINTS: 'demo-cassandra-0.demo-cassandra.team-a.svc:9042,demo-cassandra-1.demo-cassandra.team-a.svc:9042,demo-cassandra-2.demo-cassandra.team-a.svc:9042',
      CHAT_CASSANDRA_KEYSPACE: 'chat',
      CHAT_CASSANDRA_REPLICATION_FACTOR: '3',
      CHAT_MAX_FRAME_BYTES: '65536',
      CHAT_MESSAGES_PER_SECOND: '20',
    });
  });

  it('run hardened node pods named by the downward API, probed, drained before the grace period ends', () => {
    const deployment = find<V1Deployment>(applied, 'Deployment');
    expect(deployment.spec?.replicas).toBe(3);
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];
    expect(container?.image).toBe('chatcluster/chat-node:0.1.0');
    expect(container?.env).toContainEqual({ name: 'CHAT_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(container?.env).toContainEqual({ name: 'CHAT_JWT_SECRET', valueFrom: { secretKeyRef: { name: 'demo-chat-jwt', key: 'secret' } } });
    expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container?.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container?.lifecycle?.preStop?.sleep?.seconds).toBeGreaterThan(0);
    expect(pod?.terminationGracePeriodSeconds).toBe(TERMINATION_GRACE_SECONDS);
    expect(deployment.spec?.strategy?.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    expect(container?.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(deployment.spec?.template.metadata?.annotations?.['chatcluster.dev/config-hash']).toMatch(/^[0-9a-f]{10}$/);
  });

  it('expose only the public port through the load-balanced Service, and the admin port only to the operator and Prometheus', () => {
    const service = find<V1Service>(applied, 'Service', 'demo-chat');
    expect(service.spec?.ports?.map((port) => port.port)).toEqual([8080]);
    expect(find<V1Service>(applied, 'Service', 'demo-chat-nodes').spec?.clusterIP).toBe('None');
    const policy = find<V1NetworkPolicy>(applied, 'NetworkPolicy', 'demo-chat');
    const adminRule = policy.spec?.ingress?.find((rule) => rule.ports?.some((port) => port.port === 9090));
    expect(adminRule?._from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'chatcluster-system' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'chatcluster', 'app.kubernetes.io/component': 'operator' } },
      },
      { namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
    ]);
    const narrowed = find<V1NetworkPolicy>(objectsOf({}, { adminPortClients: { operatorNamespace: 'ops', prometheusNamespace: 'monitoring' } }).applied, 'NetworkPolicy', 'demo-chat');
    const prometheus = narrowed.spec?.ingress?.find((rule) => rule.ports?.some((port) => port.port === 9090))?._from?.[1];
    expect(prometheus?.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } });
  });

  it('let only the cluster’s own nodes and schema Job (and the Redis pods each other) reach its Redis and Cassandra', () => {
    const redis = find<V1NetworkPolicy>(applied, 'NetworkPolicy', 'demo-redis');
    expect(redis.spec?.podSelector?.matchLabels?.['app.kubernetes.io/component']).toBe('redis');
    expect(redis.spec?.ingress?.[0]?._from?.map((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'])).toEqual(['node', 'schema', 'redis']);
    expect(redis.spec?.ingress?.[0]?._from?.every((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/instance'] === 'demo')).toBe(true);
    const standalone = find<V1NetworkPolicy>(objectsOf({ redis: { managed: { mode: 'standalone' } } }).applied, 'NetworkPolicy', 'demo-redis');
    expect(standalone.spec?.ingress?.[0]?._from?.map((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'])).toEqual(['node', 'schema']);
    const cassandra = find<V1NetworkPolicy>(applied, 'NetworkPolicy', 'demo-cassandra');
    expect(cassandra.spec?.ingress?.map((rule) => rule.ports?.[0]?.port)).toEqual([9042, 7000]);
  });

  it('bound the managed Cassandra’s memory, and so its heap, unless the spec names resources (an empty object: none)', () => {
    const cassandraContainer = (spec: unknown) => find<V1StatefulSet>(objectsOf(spec).applied, 'StatefulSet', 'demo-cassandra').spec?.template.spec?.containers[0];
    const heap = (spec: unknown) => cassandraContainer(spec)?.env?.filter((variable) => variable.name.endsWith('_SIZE') || variable.name === 'HEAP_NEWSIZE');
    expect(cassandraContainer({})?.resources).toEqual({ requests: { cpu: '250m', memory: '2Gi' }, limits: { memory: '2Gi' } });
    expect(heap({})).toEqual([
      { name: 'MAX_HEAP_SIZE', value: '1024M' },
      { name: 'HEAP_NEWSIZE', value: '256M' },
    ]);
    const sized = { cassandra: { managed: { resources: { limits: { memory: '8Gi' } } } } };
    expect(cassandraContainer(sized)?.resources).toEqual({ limits: { memory: '8Gi' } });
    expect(heap(sized)).toContainEqual({ name: 'MAX_HEAP_SIZE', value: '2048M' });
    const unbounded = { cassandra: { managed: { resources: {} } } };
    expect(cassandraContainer(unbounded)?.resources ?? {}).toEqual({});
    expect(heap(unbounded)).toEqual([]);
  });

  it('keep the dependencies’ data volumes when the ChatCluster is deleted', () => {
    for (const name of ['demo-redis', 'demo-cassandra']) {
      const statefulSet = find<V1StatefulSet>(applied, 'StatefulSet', name);
      expect(statefulSet.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
      expect(statefulSet.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage).toBe(name === 'demo-redis' ? '1Gi' : '10Gi');
      // The claim template keeps the labels it was made with: it cannot change on a StatefulSet that exists.
      expect(statefulSet.spec?.volumeClaimTemplates?.[0]?.metadata?.labels).toEqual(statefulSet.spec?.selector.matchLabels);
    }
  });

  it('let a drain take one pod at a time of the nodes, a Sentinel Redis and the Cassandra ring (its quorum holds)', () => {
    for (const [name, component] of [['demo-chat', 'node'], ['demo-redis', 'redis'], ['demo-cassandra', 'cassandra']] as const) {
      const budget = find<V1PodDisruptionBudget>(applied, 'PodDisruptionBudget', name);
      expect(budget.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'chatcluster', 'app.kubernetes.io/instance': 'demo', 'app.kubernetes.io/component': component } } });
    }
  });
});

describe('spec changes', () => {
  it('roll the pods when the configuration changes, and not otherwise', () => {
    const hash = (spec: unknown): string | undefined =>
      find<V1Deployment>(objectsOf(spec).applied, 'Deployment').spec?.template.metadata?.annotations?.['chatcluster.dev/config-hash'];
    expect(hash({})).toBe(hash({}));
    expect(hash({ limits: { maxFrameBytes: 131072 } })).not.toBe(hash({}));
    expect(hash({ replicas: 7 })).toBe(hash({}));
  });

  it('run the schema Job again for a new image, and hold the node rollout until it succeeded', () => {
    const jobName = (spec: unknown) => find<V1Job>(objectsOf(spec).applied, 'Job').metadata?.name;
    expect(jobName({ image: 'chat-node:2' })).not.toBe(jobName({ image: 'chat-node:1' }));
    const waiting = objectsOf({ image: 'chat-node:2' }, { schemaReady: false });
    expect(waiting.applied.some((object) => object.kind === 'Deployment')).toBe(false);
    expect(find<V1Job>(waiting.applied, 'Job').spec?.template.spec?.containers[0]?.args).toEqual(['migrate']);
  });

  it('keep scaling a running Deployment on its previous template while the new image’s schema Job has not succeeded', () => {
    const running = find<V1Deployment>(objectsOf({ image: 'chat-node:1' }).applied, 'Deployment');
    const waiting = objectsOf({ image: 'chat-node:2' }, { schemaReady: false, liveNodeDeployment: running, nodeReplicas: 7 });
    const deployment = find<V1Deployment>(waiting.applied, 'Deployment');
    expect(deployment.spec?.replicas).toBe(7);
    expect(deployment.spec?.template).toEqual(running.spec?.template);
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe('chat-node:1');
    // It still says which template runs, so the rollout that follows the Job is paced as one.
    expect(deployment.metadata?.annotations?.[TEMPLATE_HASH]).toBe(running.metadata?.annotations?.[TEMPLATE_HASH]);
    const ready = find<V1Deployment>(objectsOf({ image: 'chat-node:2' }).applied, 'Deployment');
    expect(rolloutMinReadySeconds(deployment, ready.metadata?.annotations?.[TEMPLATE_HASH] ?? '')).toBeGreaterThan(0);
  });

  it('give the node Deployment minReadySeconds only while told to (a rollout), leaving the steady object as it was', () => {
    const deployment = (nodeMinReadySeconds: number | undefined) => find<V1Deployment>(objectsOf({}, { nodeMinReadySeconds }).applied, 'Deployment');
    expect(deployment(20).spec?.minReadySeconds).toBe(20);
    expect(deployment(undefined).spec).not.toHaveProperty('minReadySeconds');
    // The template's hash names what the pods run, for rolloutMinReadySeconds to compare.
    expect(deployment(undefined).metadata?.annotations?.[TEMPLATE_HASH]).toBe(nodeTemplateHash(cluster({}), context.defaultImage));
  });

  it('give the node its CPU request through the Downward API, for the CPU signal of /load', () => {
    const container = find<V1Deployment>(objectsOf().applied, 'Deployment').spec?.template.spec?.containers[0];
    expect(container?.env).toContainEqual({
      name: 'CHAT_CPU_REQUEST_MILLICORES',
      valueFrom: { resourceFieldRef: { containerName: 'chat-node', resource: 'requests.cpu', divisor: '1m' } },
    });
  });

  it('give the chat nodes a CPU request, which the autoscaler’s CPU signal is a percent of, unless the spec names resources (an empty object: none)', () => {
    const nodeContainer = (spec: unknown) => find<V1Deployment>(objectsOf(spec).applied, 'Deployment').spec?.template.spec?.containers[0];
    expect(nodeContainer({})?.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' } });
    expect(nodeContainer({ resources: { limits: { cpu: 2 } } })?.resources).toEqual({ limits: { cpu: '2' } });
    expect(nodeContainer({ resources: {} })?.resources ?? {}).toEqual({});
  });

  it('pass the pod template through to the node pods', () => {
    const spec = {
      podTemplate: {
        nodeSelector: { pool: 'chat' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'chat', effect: 'NoSchedule' }],
        labels: { team: 'a' },
        annotations: { 'example.com/owner': 'a' },
      },
      resources: { requests: { cpu: '500m', memory: 512 } },
    };
    const template = find<V1Deployment>(objectsOf(spec).applied, 'Deployment').spec?.template;
    expect(template?.spec?.nodeSelector).toEqual({ pool: 'chat' });
    expect(template?.spec?.tolerations).toEqual(spec.podTemplate.tolerations);
    expect(template?.metadata?.labels).toMatchObject({ team: 'a', 'app.kubernetes.io/component': 'node' });
    expect(template?.metadata?.annotations).toMatchObject({ 'example.com/owner': 'a' });
    expect(template?.spec?.containers[0]?.resources).toEqual({ requests: { cpu: '500m', memory: '512' } });
  });

  it('reference external dependencies instead of running them', () => {
    const { applied } = objectsOf({
      redis: { external: { url: 'redis://cache:6379', secretRef: { name: 'redis-auth', key: 'url' } } },
      cassandra: { external: { contactPoints: ['cass-a', 'cass-b:9142'], datacenter: 'eu1', secretRef: { name: 'cassandra-login' } }, keyspace: 'chat_eu' },
    });
    expect(applied.some((object) => object.kind === 'StatefulSet')).toBe(false);
    const data = find<V1ConfigMap>(applied, 'ConfigMap').data ?? {};
    expect(data.CHAT_REDIS_URL).toBeUndefined();
    // The keyspace, if the schema Job makes it, is replicated three times unless the spec says otherwise (it used to get 1).
    expect(data).toMatchObject({ CHAT_CASSANDRA_CONTACT_POINTS: 'cass-a:9042,cass-b:9142', CHAT_CASSANDRA_DC: 'eu1', CHAT_CASSANDRA_KEYSPACE: 'chat_eu', CHAT_CASSANDRA_REPLICATION_FACTOR: '3' });
    const env = find<V1Deployment>(applied, 'Deployment').spec?.template.spec?.containers[0]?.env;
    expect(env).toContainEqual({ name: 'CHAT_REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'url' } } });
    // The Cassandra login, for the nodes and for the schema Job that makes the keyspace.
    const login = [
      { name: 'CHAT_CASSANDRA_USERNAME', valueFrom: { secretKeyRef: { name: 'cassandra-login', key: 'username' } } },
      { name: 'CHAT_CASSANDRA_PASSWORD', valueFrom: { secretKeyRef: { name: 'cassandra-login', key: 'password' } } },
    ];
    expect(env).toEqual(expect.arrayContaining(login));
    expect(find<V1Job>(applied, 'Job').spec?.template.spec?.containers[0]?.env).toEqual(expect.arrayContaining(login));
  });

  it('generate no JWT secret when the spec names one or uses a JWKS', () => {
    expect(objectsOf({ auth: { jwtSecretRef: { name: 'mine', key: 'k' } } }).createOnly).toEqual([]);
    const jwks = objectsOf({ auth: { jwksURL: 'https://id.example/jwks.json' } });
    expect(jwks.createOnly).toEqual([]);
    expect(find<V1ConfigMap>(jwks.applied, 'ConfigMap').data?.CHAT_JWT_JWKS_URL).toBe('https://id.example/jwks.json');
  });

  it('add a ServiceMonitor when asked, or when auto and the Prometheus Operator is installed', () => {
    const has = (spec: unknown, crdPresent: boolean) => objectsOf(spec, { serviceMonitorCrdPresent: crdPresent }).applied.some((o) => o.kind === 'ServiceMonitor');
    expect(has({}, false)).toBe(false);
    expect(has({}, true)).toBe(true);
    expect(has({ monitoring: { serviceMonitor: 'false' } }, true)).toBe(false);
    expect(has({ monitoring: { serviceMonitor: 'true' } }, false)).toBe(true);
  });

  it('label every scraped node series with its ChatCluster, which the dashboards and alerts select by', () => {
    const monitor = find<KubernetesObject & { spec: { endpoints: { relabelings: unknown[] }[] } }>(objectsOf({}, { serviceMonitorCrdPresent: true }).applied, 'ServiceMonitor');
    expect(monitor.spec.endpoints[0]?.relabelings).toContainEqual({ sourceLabels: ['__meta_kubernetes_service_label_app_kubernetes_io_instance'], targetLabel: 'chatcluster' });
  });
});
