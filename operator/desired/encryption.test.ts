import type { KubernetesObject, V1Container, V1Deployment, V1Job, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { endpointOf } from '../reconcile/status.js';
import { desiredObjects, type DesiredContext } from './objects.js';
import { nodeTemplateHash } from './node.js';
import { certificateDnsNames, operatorSignsCertificate } from './encryption.js';
import { chatClusterOf, THREE_NODE_CONTEXT } from '../../test/support/chatcluster-fixture.js';

const cluster = chatClusterOf;

const context: DesiredContext = THREE_NODE_CONTEXT;

const applied = (spec: unknown): KubernetesObject[] => desiredObjects(cluster(spec), context, () => 'generated').applied;

function find<T extends KubernetesObject>(objects: KubernetesObject[], kind: T['kind'], name?: string): T {
  const found = objects.find((object) => object.kind === kind && (name === undefined || object.metadata?.name === name));
  if (found === undefined) throw new Error(`no ${kind ?? ''} ${name ?? ''}`);
  return found as T;
}

function nodePod(spec: unknown): { pod: V1PodSpec; container: V1Container } {
  const pod = find<V1Deployment>(applied(spec), 'Deployment').spec?.template.spec;
  const container = pod?.containers[0];
  if (pod === undefined || container === undefined) throw new Error('no node pod');
  return { pod, container };
}

const envOf = (container: V1Container): Record<string, string | undefined> => Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));

const EXTERNAL = {
  redis: { external: { url: 'rediss://redis.example:6380', caSecretRef: { name: 'data-ca', key: 'redis.pem' } } },
  cassandra: { external: { contactPoints: ['c.example:9042'], tls: { caSecretRef: { name: 'data-ca', key: 'cassandra.pem' } } } },
};

describe('a ChatCluster with TLS on the public port', () => {
  const spec = { tls: { secretName: 'chat-cert' } };

  it('mounts the TLS Secret whole (no subPath, so renewals reach the files) and names its files for the node', () => {
    const { pod, container } = nodePod(spec);
    expect(pod.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'chat-cert', defaultMode: 0o440 } });
    expect(container.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/chat/tls', readOnly: true });
    expect(container.volumeMounts?.every((mount) => mount.subPath === undefined)).toBe(true);
    expect(envOf(container)).toMatchObject({ CHAT_TLS_CERT_FILE: '/etc/chat/tls/tls.crt', CHAT_TLS_KEY_FILE: '/etc/chat/tls/tls.key' });
    // The group (fsGroup) reads the key: the node runs as that group's user.
    expect(pod.securityContext?.fsGroup).toBe(1000);
  });

  it('probes /healthz and /readyz over HTTPS on the public port, named https', () => {
    const { container } = nodePod(spec);
    expect(container.ports?.[0]).toEqual({ name: 'https', containerPort: 8080 });
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      expect(probe?.httpGet).toMatchObject({ port: 'https', scheme: 'HTTPS' });
    }
  });

  it('says wss on the Services’ public port (name https, appProtocol kubernetes.io/wss); the admin port stays plain', () => {
    const objects = applied(spec);
    const wss = { name: 'https', port: 8080, targetPort: 'https', protocol: 'TCP', appProtocol: 'kubernetes.io/wss' };
    expect(find<V1Service>(objects, 'Service', 'demo-chat').spec?.ports).toEqual([wss]);
    expect(find<V1Service>(objects, 'Service', 'demo-chat-nodes').spec?.ports).toEqual([wss, { name: 'admin', port: 9090, targetPort: 'admin', protocol: 'TCP' }]);
  });

  it('reports a wss:// endpoint; a plaintext cluster keeps the host:port it always had', () => {
    expect(endpointOf(cluster(spec))).toBe('wss://demo-chat.team-a.svc:8080');
    expect(endpointOf(cluster({}))).toBe('demo-chat.team-a.svc:8080');
  });

  it('reads the certificate from <name>-tls when cert-manager or the operator writes it', () => {
    for (const tls of [{ selfSigned: true }, { issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' } }]) {
      expect(nodePod({ tls }).pod.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'demo-tls', defaultMode: 0o440 } });
    }
  });

  it('rolls the pods when another Secret is named, never for what a Secret holds (the pod template names Secrets only)', () => {
    const hash = (tls: unknown) => nodeTemplateHash(cluster({ tls }), context.defaultImage);
    expect(hash({ secretName: 'a' })).toBe(hash({ secretName: 'a' }));
    expect(hash({ secretName: 'b' })).not.toBe(hash({ secretName: 'a' }));
    expect(hash({ selfSigned: true })).toBe(hash({ issuerRef: { name: 'x', kind: 'Issuer' } }));
    expect(JSON.stringify(find<V1Deployment>(applied(spec), 'Deployment'))).not.toMatch(/resourceVersion|tls\.crt"\s*:/);
  });
});

describe('a plaintext ChatCluster', () => {
  it('keeps its node pods and Services as they were before TLS existed: http port, no scheme, no extra volumes', () => {
    const { pod, container } = nodePod({});
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(envOf(container)).not.toHaveProperty('CHAT_TLS_CERT_FILE');
    expect(find<V1Service>(applied({}), 'Service', 'demo-chat').spec?.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(find<V1Job>(applied({}), 'Job').spec?.template.spec).not.toHaveProperty('volumes');
  });
});

describe('at-rest encryption', () => {
  const spec = { encryption: { atRest: { keysSecretRef: { name: 'chat-keys' } } } };

  it('mounts the keys Secret as a directory of versions and points the node at it', () => {
    const { pod, container } = nodePod(spec);
    expect(pod.volumes).toContainEqual({ name: 'at-rest-keys', secret: { secretName: 'chat-keys', defaultMode: 0o440 } });
    expect(container.volumeMounts).toContainEqual({ name: 'at-rest-keys', mountPath: '/etc/chat/at-rest-keys', readOnly: true });
    expect(envOf(container).CHAT_AT_REST_KEYS_DIR).toBe('/etc/chat/at-rest-keys');
  });

  it('leaves the keys out of the schema Job, which stores no message', () => {
    const job = find<V1Job>(applied(spec), 'Job');
    expect(JSON.stringify(job)).not.toContain('chat-keys');
  });
});

describe('TLS to an external Redis and Cassandra', () => {
  it('projects each CA bundle to ca.crt and names it for the nodes and the schema Job', () => {
    const objects = applied(EXTERNAL);
    const job = find<V1Job>(objects, 'Job').spec?.template.spec;
    const node = find<V1Deployment>(objects, 'Deployment').spec?.template.spec;
    for (const pod of [job, node]) {
      const container = pod?.containers[0];
      if (pod === undefined || container === undefined) throw new Error('no pod');
      expect(envOf(container)).toMatchObject({
        CHAT_REDIS_CA_FILE: '/etc/chat/redis-ca/ca.crt',
        CHAT_CASSANDRA_TLS: 'true',
        CHAT_CASSANDRA_CA_FILE: '/etc/chat/cassandra-ca/ca.crt',
      });
      expect(pod.volumes).toContainEqual({ name: 'redis-ca', secret: { secretName: 'data-ca', defaultMode: 0o444, items: [{ key: 'redis.pem', path: 'ca.crt' }] } });
      expect(pod.volumes).toContainEqual({ name: 'cassandra-ca', secret: { secretName: 'data-ca', defaultMode: 0o444, items: [{ key: 'cassandra.pem', path: 'ca.crt' }] } });
      expect(container.volumeMounts).toContainEqual({ name: 'redis-ca', mountPath: '/etc/chat/redis-ca', readOnly: true });
    }
  });

  it('turns Cassandra TLS on with the system’s CAs when no bundle is named, and off when told', () => {
    const on = envOf(nodePod({ cassandra: { external: { contactPoints: ['c'], tls: {} } } }).container);
    expect(on.CHAT_CASSANDRA_TLS).toBe('true');
    expect(on).not.toHaveProperty('CHAT_CASSANDRA_CA_FILE');
    expect(envOf(nodePod({ cassandra: { external: { contactPoints: ['c'], tls: { enabled: false } } } }).container)).not.toHaveProperty('CHAT_CASSANDRA_TLS');
  });

  it('makes a new schema Job (a Job’s pod cannot change) when TLS to the data stores is turned on', () => {
    const jobName = (spec: unknown) => find<V1Job>(applied(spec), 'Job').metadata?.name;
    const plain = { redis: { external: { url: 'rediss://redis.example:6380' } }, cassandra: { external: { contactPoints: ['c.example:9042'] } } };
    expect(jobName(EXTERNAL)).not.toBe(jobName(plain));
    expect(jobName(plain)).toBe(jobName({}));
  });

  it('makes a new schema Job for anything else that changes its pod: a Cassandra login, another JWT Secret', () => {
    const jobOf = (spec: unknown) => find<V1Job>(applied(spec), 'Job');
    const external = { contactPoints: ['c.example:9042'] };
    const names = [
      jobOf({ cassandra: { external } }),
      jobOf({ cassandra: { external: { ...external, secretRef: { name: 'cassandra-login' } } } }),
      jobOf({ cassandra: { external }, auth: { jwtSecretRef: { name: 'mine', key: 'k' } } }),
    ].map((job) => job.metadata?.name);
    expect(new Set(names).size).toBe(3);
    // The same spec, the same Job: nothing runs again at steady state.
    expect(jobOf({ cassandra: { external } }).metadata?.name).toBe(names[0]);
  });
});

describe('the names the ChatCluster’s certificate covers', () => {
  it('are the chat Services and node pods, and the managed Redis’s and Cassandra’s Services and pods', () => {
    const names = certificateDnsNames(cluster({}));
    for (const name of ['demo-chat', 'demo-chat.team-a', 'demo-chat.team-a.svc', 'demo-chat.team-a.svc.cluster.local', 'demo-chat-nodes.team-a.svc', '*.demo-chat-nodes.team-a.svc']) {
      expect(names).toContain(name);
    }
    for (const name of ['demo-redis.team-a.svc', '*.demo-redis.team-a.svc.cluster.local', 'demo-cassandra', '*.demo-cassandra.team-a.svc']) expect(names).toContain(name);
  });

  it('leave out external Redis and Cassandra, which have certificates of their own', () => {
    const names = certificateDnsNames(cluster(EXTERNAL));
    expect(names.some((name) => name.includes('redis') || name.includes('cassandra'))).toBe(false);
  });

  it('take in spec.tls.dnsNames, the public names clients reach the nodes by', () => {
    const names = certificateDnsNames(cluster({ tls: { selfSigned: true, dnsNames: ['chat.example.com', '*.chat.example.com'] } }));
    expect(names).toEqual(expect.arrayContaining(['demo-chat.team-a.svc', 'chat.example.com', '*.chat.example.com']));
  });

  it('are the stores’ alone when the user’s own certificate serves the chat Services', () => {
    const names = certificateDnsNames(cluster({ tls: { secretName: 'public-cert' } }));
    expect(names).toContain('demo-redis.team-a.svc');
    expect(names).toContain('*.demo-cassandra.team-a.svc');
    expect(names.some((name) => name.includes('chat'))).toBe(false);
  });
});

describe('who signs <name>-tls', () => {
  it('is the operator for selfSigned, and for a certificate of the user’s own while it runs a store; cert-manager for issuerRef', () => {
    expect(operatorSignsCertificate(cluster({ tls: { selfSigned: true } }))).toBe(true);
    expect(operatorSignsCertificate(cluster({ tls: { secretName: 'public-cert' } }))).toBe(true);
    expect(operatorSignsCertificate(cluster({ ...EXTERNAL, tls: { secretName: 'public-cert' } }))).toBe(false);
    expect(operatorSignsCertificate(cluster({ tls: { issuerRef: { name: 'ca', kind: 'Issuer' } } }))).toBe(false);
    expect(operatorSignsCertificate(cluster({}))).toBe(false);
  });
});
