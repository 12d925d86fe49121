import {
  AppsV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  VersionApi,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testEnvironment } from '../support/env.js';
import {
  adminKubeConfig,
  createTestNamespace,
  kubeConfigWithToken,
  statusOfFailure,
} from '../support/kubernetes.js';

const SERVICE_ACCOUNT_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

describe('the test environment’s Kubernetes control plane', () => {
  const env = testEnvironment();
  let admin: KubeConfig;
  let namespace: { name: string; delete(): Promise<void> };

  beforeAll(async () => {
    admin = adminKubeConfig(env);
    namespace = await createTestNamespace(admin, 'testenv');
  });
  afterAll(async () => {
    await namespace.delete();
  });

  it('is a kube-apiserver reporting v1.35 at /version', async () => {
    const version = await admin.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.35\.\d+$/);
    expect(version.minor).toBe('35');
  });

  it('refuses requests without valid credentials', async () => {
    const anonymous = kubeConfigWithToken(admin).makeApiClient(CoreV1Api);
    expect(await statusOfFailure(anonymous.listNamespacedSecret({ namespace: 'kube-system' }))).toBe(403);
    const forged = kubeConfigWithToken(admin, 'not-a-real-token').makeApiClient(CoreV1Api);
    expect(await statusOfFailure(forged.listNamespace())).toBe(401);
  });

  it('enforces RBAC for a service account: nothing without a binding, exactly what a Role grants with one', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const ns = namespace.name;
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody' } } });
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name: 'nobody',
      namespace: ns,
      body: { spec: { audiences: [SERVICE_ACCOUNT_AUDIENCE], expirationSeconds: 600 } },
    });
    const token = tokenRequest.status?.token;
    expect(token).toBeTruthy();
    const asNobody = kubeConfigWithToken(admin, token).makeApiClient(CoreV1Api);

    expect(await statusOfFailure(asNobody.listNamespacedPod({ namespace: ns }))).toBe(403);

    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'nobody-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace: ns }],
      },
    });
    await vi.waitFor(async () => {
      await asNobody.listNamespacedPod({ namespace: ns });
    }, { timeout: 10_000, interval: 200 });
    expect(await statusOfFailure(asNobody.listNamespacedSecret({ namespace: ns }))).toBe(403);
    expect(await statusOfFailure(asNobody.listNamespacedPod({ namespace: 'default' }))).toBe(403);
  });

  it('runs a Deployment of 2 replicas as 2 Ready pods on kwok nodes, and garbage-collects them with it', async () => {
    const apps = admin.makeApiClient(AppsV1Api);
    const core = admin.makeApiClient(CoreV1Api);
    const ns = namespace.name;
    const labels = { app: 'hello' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'hello' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'hello', image: 'registry.invalid/hello:1' }] },
          },
        },
      },
    });

    const readyPods = async (): Promise<V1Pod[]> => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=hello' });
      return pods.items.filter((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    };
    const pods = await vi.waitFor(async () => {
      const ready = await readyPods();
      expect(ready).toHaveLength(2);
      return ready;
    }, { timeout: 60_000, interval: 500 });
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toMatch(/^kwok-node-\d$/);
      expect(pod.status?.phase).toBe('Running');
    }
    const deployment = await apps.readNamespacedDeployment({ name: 'hello', namespace: ns });
    await vi.waitFor(async () => {
      const status = (await apps.readNamespacedDeploymentStatus({ name: 'hello', namespace: ns })).status;
      expect(status?.readyReplicas).toBe(2);
    }, { timeout: 30_000, interval: 500 });

    await apps.deleteNamespacedDeployment({ name: 'hello', namespace: ns, body: { propagationPolicy: 'Background' } });
    await vi.waitFor(async () => {
      const replicaSets = await apps.listNamespacedReplicaSet({ namespace: ns });
      const owned = replicaSets.items.filter((rs) => rs.metadata?.ownerReferences?.some((ref) => ref.uid === deployment.metadata?.uid));
      expect(owned).toEqual([]);
      const remaining = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=hello' });
      expect(remaining.items).toEqual([]);
    }, { timeout: 60_000, interval: 500 });
  });

  it('garbage-collects an object whose owner is deleted', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const ns = namespace.name;
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
    await vi.waitFor(async () => {
      expect(await statusOfFailure(core.readNamespacedConfigMap({ name: 'owned', namespace: ns }))).toBe(404);
    }, { timeout: 30_000, interval: 250 });
  });
});
