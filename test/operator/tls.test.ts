/**
 * TLS and at-rest keys managed by the operator, on a real control plane: the self-signed CA
 * and server certificate (spec.tls.selfSigned) made, kept and renewed with the operator's
 * own permissions; a ChatCluster served over wss:// through the operator process; a
 * cert-manager Certificate (spec.tls.issuerRef) once its CRD exists, and a clear Degraded
 * before; the reseal Job of the newest at-rest key version.
 * No pod runs a real node here (kwok marks pods ready); the files are proven in kind.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1CustomResourceDefinition,
  type V1Secret,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from 'vitest';
import { parseChatClusterSpec, type ChatCluster } from '../../common/chatcluster.js';
import { certificateDnsNames } from '../../operator/desired/encryption.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { KubeWriter } from '../../operator/reconcile/kube.js';
import { AtRestKeyVersions } from '../../operator/reconcile/at-rest-keys.js';
import { SelfSignedCertificates } from '../../operator/reconcile/self-signed-tls.js';
import { testEnvironment } from '../support/env.js';
import { adminKubeConfig, createTestNamespace } from '../support/kubernetes.js';
import { grantOperatorAccess, type OperatorAccess } from '../support/operator-access.js';
import { ChatClusters, EXTERNAL_DEPENDENCIES, installChatClusterCrd, type StoredChatCluster } from '../support/operator-chatclusters.js';
import { runningOperators, startOperator, stopAllOperators } from '../support/operator-process.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * cert-manager's Certificate CRD, cut to what the API server needs to serve the kind
 * (cert-manager itself cannot be installed here). Objects of it are real API objects;
 * nothing issues them, which is cert-manager's part.
 */
const CERTIFICATE_CRD: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'certificates.cert-manager.io' },
  spec: {
    group: 'cert-manager.io',
    scope: 'Namespaced',
    names: { kind: 'Certificate', listKind: 'CertificateList', plural: 'certificates', singular: 'certificate', shortNames: ['cert', 'certs'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
              status: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
            },
          },
        },
      },
    ],
  },
};
const SMALL_EXTERNAL = { ...EXTERNAL_DEPENDENCIES, autoscaling: { enabled: false }, replicas: 1 };

/** tls.crt, tls.key and ca.crt of a kubernetes.io/tls Secret, decoded. */
function pemsOf(secret: V1Secret): { certificate: string; key: string; ca: string | undefined } {
  const decode = (value: string | undefined): string => Buffer.from(value ?? '', 'base64').toString('utf8');
  return { certificate: decode(secret.data?.['tls.crt']), key: decode(secret.data?.['tls.key']), ca: secret.data?.['ca.crt'] === undefined ? undefined : decode(secret.data['ca.crt']) };
}

/** The operator's view of a stored ChatCluster. */
function operated(stored: StoredChatCluster): ChatCluster {
  const { name, namespace, uid, generation } = stored.metadata;
  return { apiVersion: 'chatcluster.dev/v1alpha1', kind: 'ChatCluster', metadata: { name, namespace, uid, generation }, spec: parseChatClusterSpec(stored.spec) };
}

describe('TLS managed by the operator, on a real control plane', () => {
  const env = testEnvironment();
  let admin: KubeConfig;
  let core: CoreV1Api;
  let dir: string;
  let access: OperatorAccess | undefined;
  const namespaces: { name: string; delete(): Promise<void> }[] = [];
  let operatorNamespace: string;
  let watchNamespace: string;
  let clusters: ChatClusters;

  const secret = (name: string): Promise<V1Secret> => core.readNamespacedSecret({ namespace: watchNamespace, name });

  beforeAll(async () => {
    admin = adminKubeConfig(env);
    core = admin.makeApiClient(CoreV1Api);
    dir = mkdtempSync(join(tmpdir(), 'chatcluster-tls-test-'));
    for (const prefix of ['tlsop', 'tls']) namespaces.push(await createTestNamespace(admin, prefix));
    operatorNamespace = namespaces[0]?.name ?? '';
    watchNamespace = namespaces[1]?.name ?? '';
    access = await grantOperatorAccess(admin, operatorNamespace, dir);
    await installChatClusterCrd(admin, env.processEnv, watchNamespace);
    clusters = new ChatClusters(admin, watchNamespace);
  });

  beforeEach(() => {
    onTestFailed(() => {
      for (const operator of runningOperators()) console.error(operator.tail());
    });
  });

  afterAll(async () => {
    await stopAllOperators();
    await access?.revoke();
    await Promise.all(namespaces.map((namespace) => namespace.delete().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the self-signed certificates, written with the operator’s ServiceAccount', () => {
    let cluster: ChatCluster;
    let clock: number;
    let certificates: SelfSignedCertificates;

    beforeAll(async () => {
      if (access === undefined) throw new Error('no ServiceAccount');
      const operatorConfig = new KubeConfig();
      operatorConfig.loadFromFile(access.kubeconfig);
      // No operator watches this namespace yet: only this step writes the Secrets.
      cluster = operated(await clusters.create('direct', { ...SMALL_EXTERNAL, tls: { selfSigned: true } }));
      clock = Date.parse('2026-03-01T00:00:00Z');
      certificates = new SelfSignedCertificates(new KubeWriter(operatorConfig, new OperatorMetrics()), () => clock);
    });

    it('makes a CA Secret and a kubernetes.io/tls Secret with ca.crt whose certificate the CA signed, for the Services’ names', async () => {
      const { written } = await certificates.ensure(cluster);
      expect(written.map((write) => write.name)).toEqual(['direct-ca', 'direct-tls']);

      const tls = await secret('direct-tls');
      expect(tls.type).toBe('kubernetes.io/tls');
      expect(tls.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ChatCluster', name: 'direct', uid: cluster.metadata.uid, controller: true });
      const { certificate, ca } = pemsOf(tls);
      const caSecret = pemsOf(await secret('direct-ca'));
      expect(ca).toBe(caSecret.certificate);
      const server = new X509Certificate(certificate);
      const issuer = new X509Certificate(caSecret.certificate);
      expect(server.checkIssued(issuer)).toBe(true);
      expect(server.verify(issuer.publicKey)).toBe(true);
      const namespace = watchNamespace;
      for (const host of ['direct-chat', `direct-chat.${namespace}`, `direct-chat.${namespace}.svc`, `direct-chat.${namespace}.svc.cluster.local`]) {
        expect(server.checkHost(host), host).toBe(host);
      }
      expect(server.subjectAltName?.split(', ')).toHaveLength(certificateDnsNames(cluster).length);
    });

    it('writes nothing while the certificate serves, even after the recheck interval', async () => {
      const before = (await secret('direct-tls')).metadata?.resourceVersion;
      expect((await certificates.ensure(cluster)).written).toEqual([]);
      clock += 30 * 60_000;
      expect((await certificates.ensure(cluster)).written).toEqual([]);
      expect((await secret('direct-tls')).metadata?.resourceVersion).toBe(before);
    });

    it('renews the server certificate two thirds into its 90 days, under the same CA', async () => {
      const before = pemsOf(await secret('direct-tls'));
      const caBefore = (await secret('direct-ca')).metadata?.resourceVersion;
      clock += 61 * DAY_MS;
      const { written, recheckAt } = await certificates.ensure(cluster);
      expect(written).toEqual([{ name: 'direct-tls', reason: 'a new server certificate: it is two thirds into its lifetime' }]);
      expect(recheckAt - clock).toBeLessThanOrEqual(10 * 60_000);
      const after = pemsOf(await secret('direct-tls'));
      expect(after.certificate).not.toBe(before.certificate);
      expect(after.key).not.toBe(before.key);
      expect(new X509Certificate(after.certificate).checkIssued(new X509Certificate(after.ca ?? ''))).toBe(true);
      expect((await secret('direct-ca')).metadata?.resourceVersion).toBe(caBefore);
    });

    it('makes the certificate again when it was deleted by hand, at the next recheck', async () => {
      await core.deleteNamespacedSecret({ namespace: watchNamespace, name: 'direct-tls' });
      clock += 11 * 60_000;
      expect((await certificates.ensure(cluster)).written).toEqual([{ name: 'direct-tls', reason: 'a new server certificate: there was none' }]);
      expect(pemsOf(await secret('direct-tls')).ca).toBe(pemsOf(await secret('direct-ca')).certificate);
    });
  });

  describe('a self-signed ChatCluster through the operator', () => {
    beforeAll(async () => {
      if (access === undefined) throw new Error('no ServiceAccount');
      await startOperator({ kubeconfig: access.kubeconfig, leaseNamespace: operatorNamespace, watchNamespace, identity: `tls-${randomBytes(3).toString('hex')}` });
    });

    it('gets its certificate, nodes that mount it and probe over HTTPS, a wss Service and a wss:// endpoint, and becomes Ready', async () => {
      await clusters.create('secure', { ...SMALL_EXTERNAL, tls: { selfSigned: true } });
      const ready = await clusters.waitForReady('secure');
      expect(ready.status?.endpoint).toBe(`wss://secure-chat.${watchNamespace}.svc:8080`);

      expect(pemsOf(await secret('secure-tls')).ca).toBe(pemsOf(await secret('secure-ca')).certificate);
      const pod = (await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: watchNamespace, name: 'secure-chat' })).spec?.template.spec;
      expect(pod?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'secure-tls', defaultMode: 0o440 } });
      expect(pod?.containers[0]?.readinessProbe?.httpGet).toMatchObject({ port: 'https', scheme: 'HTTPS' });
      const service = await core.readNamespacedService({ namespace: watchNamespace, name: 'secure-chat' });
      expect(service.spec?.ports?.[0]).toMatchObject({ name: 'https', appProtocol: 'kubernetes.io/wss' });
    });

    it('with a certificate of the user’s own, signs one of its own for the managed Redis and Cassandra, which speak TLS with it', async () => {
      await clusters.create('own', { autoscaling: { enabled: false }, replicas: 1, tls: { secretName: 'own-public' } });
      const apps = admin.makeApiClient(AppsV1Api);
      await vi.waitFor(async () => {
        const redis = (await apps.readNamespacedStatefulSet({ namespace: watchNamespace, name: 'own-redis' })).spec?.template.spec;
        expect(redis?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'own-tls', defaultMode: 0o440 } });
        expect(JSON.stringify(redis?.containers[0]?.command)).toContain('tls-port 6379');
        const cassandra = (await apps.readNamespacedStatefulSet({ namespace: watchNamespace, name: 'own-cassandra' })).spec?.template.spec;
        expect(JSON.stringify(cassandra?.containers[0]?.command)).toContain('client_encryption_options');
      }, { timeout: 60_000, interval: 500 });

      const stores = pemsOf(await secret('own-tls'));
      expect(stores.ca).toBe(pemsOf(await secret('own-ca')).certificate);
      const names = new X509Certificate(stores.certificate).subjectAltName ?? '';
      expect(names).toContain(`DNS:own-redis.${watchNamespace}.svc`);
      expect(names).toContain(`DNS:*.own-cassandra.${watchNamespace}.svc`);
      // The public names are the user's certificate's, not this one's.
      expect(names).not.toContain('own-chat');

      // The nodes come once the stores (kwok's pods) are ready and the schema Job has run.
      const pod = await vi.waitFor(async () => (await apps.readNamespacedDeployment({ namespace: watchNamespace, name: 'own-chat' })).spec?.template.spec, { timeout: 90_000, interval: 1000 });
      expect(pod?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'own-public', defaultMode: 0o440 } });
      expect(pod?.volumes).toContainEqual({ name: 'redis-ca', secret: { secretName: 'own-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
      expect(pod?.volumes).toContainEqual({ name: 'cassandra-ca', secret: { secretName: 'own-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    });

    it('turns TLS off again: plain ports, no certificate volume, a host:port endpoint', async () => {
      await clusters.patch('secure', { spec: { tls: null } });
      await vi.waitFor(async () => {
        const stored = await clusters.read('secure');
        expect(stored.status?.observedGeneration).toBe(stored.metadata.generation);
        expect(stored.status?.endpoint).toBe(`secure-chat.${watchNamespace}.svc:8080`);
        const pod = (await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: watchNamespace, name: 'secure-chat' })).spec?.template.spec;
        expect(pod?.volumes?.map((volume) => volume.name)).toEqual(['tmp']);
        const service = await core.readNamespacedService({ namespace: watchNamespace, name: 'secure-chat' });
        expect(service.spec?.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
      }, { timeout: 60_000, interval: 500 });
    });
  });
  describe('spec.tls.issuerRef, before and after cert-manager’s CRD is installed', () => {
    const extensions = (): ApiextensionsV1Api => admin.makeApiClient(ApiextensionsV1Api);
    const certificate = (name: string): Promise<KubernetesObject & { spec?: Record<string, unknown> }> =>
      admin.makeApiClient(KubernetesObjectApi).read({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name, namespace: watchNamespace } });
    const issuerRef = { name: 'team-ca', kind: 'ClusterIssuer' };

    beforeAll(async () => {
      // Absent at first, as on a cluster without cert-manager (a previous run's copy is gone with its API server).
      await expect(extensions().readCustomResourceDefinition({ name: 'certificates.cert-manager.io' })).rejects.toMatchObject({ code: 404 });
    });

    afterAll(async () => {
      // Other test files share the API server: leave it as found.
      await extensions().deleteCustomResourceDefinition({ name: 'certificates.cert-manager.io' }).catch(() => undefined);
    });

    it('without cert-manager: Degraded, reason CertManagerMissing, naming the CRD, and nothing of the spec applied', async () => {
      await clusters.create('issued', { ...SMALL_EXTERNAL, tls: { issuerRef } });
      const stored = await vi.waitFor(async () => {
        const read = await clusters.read('issued');
        expect(read.status?.observedGeneration).toBe(read.metadata.generation);
        return read;
      }, { timeout: 30_000, interval: 250 });
      expect(stored.status?.phase).toBe('Degraded');
      const degraded = stored.status?.conditions?.find((condition) => condition.type === 'Degraded');
      expect(degraded).toMatchObject({ status: 'True', reason: 'CertManagerMissing' });
      expect(degraded?.message).toContain('certificates.cert-manager.io is not installed');
      expect(stored.status?.conditions?.find((condition) => condition.type === 'Ready')?.status).toBe('False');
      const owned = await clusters.owned('issued');
      expect(Object.values(owned).flat().map((object) => `${object.kind ?? ''}/${object.metadata?.name ?? ''}`)).toEqual([]);
    });

    it('once the CRD is installed: a Certificate for <name>-tls from the issuer, nodes that mount it, Degraded no more', async () => {
      await extensions().createCustomResourceDefinition({ body: CERTIFICATE_CRD });
      await vi.waitFor(async () => {
        const crd = await extensions().readCustomResourceDefinition({ name: 'certificates.cert-manager.io' });
        expect(crd.status?.conditions?.find((condition) => condition.type === 'Established')?.status).toBe('True');
      }, { timeout: 30_000, interval: 200 });

      const created = await vi.waitFor(() => certificate('issued-tls'), { timeout: 45_000, interval: 500 });
      expect(created.spec).toMatchObject({ secretName: 'issued-tls', issuerRef });
      expect(created.spec?.dnsNames).toEqual(expect.arrayContaining([`issued-chat.${watchNamespace}.svc`, `issued-chat.${watchNamespace}.svc.cluster.local`]));
      expect(created.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ChatCluster', name: 'issued', controller: true });

      const ready = await clusters.waitForReady('issued');
      expect(ready.status?.endpoint).toBe(`wss://issued-chat.${watchNamespace}.svc:8080`);
      expect(ready.status?.conditions?.find((condition) => condition.type === 'Degraded')?.status).toBe('False');
      const pod = (await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: watchNamespace, name: 'issued-chat' })).spec?.template.spec;
      expect(pod?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'issued-tls', defaultMode: 0o440 } });
    });

    it('deletes the Certificate when the spec no longer asks for it', async () => {
      await clusters.patch('issued', { spec: { tls: { issuerRef: null, selfSigned: true } } });
      await vi.waitFor(async () => {
        await expect(certificate('issued-tls')).rejects.toMatchObject({ code: 404 });
      }, { timeout: 30_000, interval: 500 });
      // The self-signed certificate takes the Secret's name over.
      await vi.waitFor(async () => {
        expect(pemsOf(await secret('issued-tls')).ca).toBe(pemsOf(await secret('issued-ca')).certificate);
      }, { timeout: 30_000, interval: 500 });
    });
  });
  describe('at-rest keys: the reseal Job of the newest version', () => {
    it('reads the newest version from the keys Secret with the operator’s ServiceAccount, again after the recheck interval', async () => {
      if (access === undefined) throw new Error('no ServiceAccount');
      const operatorConfig = new KubeConfig();
      operatorConfig.loadFromFile(access.kubeconfig);
      let clock = 0;
      const versions = new AtRestKeyVersions(new KubeWriter(operatorConfig, new OperatorMetrics()), () => clock);
      const cluster = operated(await clusters.create('versions', { ...SMALL_EXTERNAL, encryption: { atRest: { keysSecretRef: { name: 'versions-keys' } } } }));
      expect(await versions.newest(cluster)).toBeUndefined();
      clock += 11 * 60_000;
      await core.createNamespacedSecret({ namespace: watchNamespace, body: { metadata: { name: 'versions-keys' }, stringData: { v1: randomBytes(32).toString('base64') } } });
      expect(await versions.newest(cluster)).toBe(1);
      await core.patchNamespacedSecret(
        { namespace: watchNamespace, name: 'versions-keys', body: { stringData: { v2: randomBytes(32).toString('base64') } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      expect(await versions.newest(cluster)).toBe(1);
      clock += 11 * 60_000;
      expect(await versions.newest(cluster)).toBe(2);
    });

    it('runs reseal for the newest key once the schema is ready, mounting the keys, and keeps the Job', async () => {
      await core.createNamespacedSecret({ namespace: watchNamespace, body: { metadata: { name: 'sealed-keys' }, stringData: { v1: randomBytes(32).toString('base64'), v2: randomBytes(32).toString('base64') } } });
      await clusters.create('sealed', { ...SMALL_EXTERNAL, encryption: { atRest: { keysSecretRef: { name: 'sealed-keys' } } } });
      await clusters.waitForReady('sealed');
      const job = await vi.waitFor(() => admin.makeApiClient(BatchV1Api).readNamespacedJob({ namespace: watchNamespace, name: 'sealed-reseal-v2' }), { timeout: 30_000, interval: 500 });
      expect(job.spec?.template.spec?.containers[0]?.args).toEqual(['reseal']);
      expect(job.spec?.template.spec?.volumes).toContainEqual({ name: 'at-rest-keys', secret: { secretName: 'sealed-keys', defaultMode: 0o440 } });
      const pod = (await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: watchNamespace, name: 'sealed-chat' })).spec?.template.spec;
      expect(pod?.containers[0]?.env).toContainEqual({ name: 'CHAT_AT_REST_KEYS_DIR', value: '/etc/chat/at-rest-keys' });
      // Not pruned with the schema Jobs of earlier images: it is what says the pass ran.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await expect(admin.makeApiClient(BatchV1Api).readNamespacedJob({ namespace: watchNamespace, name: 'sealed-reseal-v2' })).resolves.toBeDefined();
    });

    it('tells in an Event, once the Job has succeeded, that the older versions may be removed', async () => {
      const told = await vi.waitFor(async () => {
        const listed = await core.listNamespacedEvent({ namespace: watchNamespace, fieldSelector: 'involvedObject.kind=ChatCluster,involvedObject.name=sealed,reason=Resealed' });
        expect(listed.items).toHaveLength(1);
        return listed.items[0];
      }, { timeout: 60_000, interval: 500 });
      expect(told?.type).toBe('Normal');
      expect(told?.message).toContain('reseal Job sealed-reseal-v2 succeeded');
      expect(told?.message).toContain('versions below v2 may now be removed');
    });
  });
});
