import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig, type V1PolicyRule } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { kubeConfigWithToken } from './kubernetes.js';
import { z } from 'zod';

const RBAC_RULES_FILE = new URL('../../charts/chatcluster-operator/files/rbac-rules.yaml', import.meta.url);
const SERVICE_ACCOUNT = 'chatcluster-operator';

const PolicyRule = z.object({
  apiGroups: z.array(z.string()),
  resources: z.array(z.string()),
  verbs: z.array(z.string()).min(1),
  resourceNames: z.array(z.string()).optional(),
});
const RbacRules = z.object({
  clusterRules: z.array(PolicyRule).min(1),
  crdRules: z.array(PolicyRule).min(1),
  crdUpgradeRules: z.array(PolicyRule).min(1),
  leaseRules: z.array(PolicyRule).min(1),
});

/** The operator's permissions exactly as the chart ships them (charts/chatcluster-operator/files/rbac-rules.yaml). */
export function chartRbacRules(): Record<keyof z.infer<typeof RbacRules>, V1PolicyRule[]> {
  return RbacRules.parse(parse(readFileSync(RBAC_RULES_FILE, 'utf8')));
}

/** A ServiceAccount bound to the chart's rules, and a kubeconfig that authenticates as it. */
export interface OperatorAccess {
  /** A kubeconfig file for the operator: the test API server, its CA, the ServiceAccount's token. */
  kubeconfig: string;
  serviceAccount: { namespace: string; name: string };
  /** Lets the ServiceAccount hold Leases in one more namespace (the `leaseRules` Role there). */
  allowLeasesIn(namespace: string): Promise<void>;
  /** Removes the cluster-scoped ClusterRole and ClusterRoleBinding (namespaced objects go with their namespaces). */
  revoke(): Promise<void>;
}

/**
 * What the Helm chart gives the operator, made by hand (`scope: 'namespace'`: the namespaced
 * install, a Role of `clusterRules` in `namespace`): a ServiceAccount in `namespace`,
 * a ClusterRole of `clusterRules` and `crdRules` and its ClusterRoleBinding, a Role of `leaseRules` and its
 * RoleBinding in each Lease namespace; a token from the TokenRequest API. Nothing more, so a
 * permission missing from the chart fails the operator here as it would in a cluster.
 */
export async function grantOperatorAccess(admin: KubeConfig, namespace: string, dir: string, scope: 'cluster' | 'namespace' = 'cluster'): Promise<OperatorAccess> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const rules = chartRbacRules();
  // Cluster-scoped names carry the namespace's random suffix: every test file has its own.
  const clusterRoleName = `chatcluster-operator-${namespace}`;
  const subjects = [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }];

  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SERVICE_ACCOUNT } } });
  // CRD lookups are cluster-scoped: a ClusterRole in either mode, as the chart makes it.
  const clusterRules = scope === 'cluster' ? [...rules.clusterRules, ...rules.crdRules] : rules.crdRules;
  await rbac.createClusterRole({ body: { metadata: { name: clusterRoleName }, rules: clusterRules } });
  await rbac.createClusterRoleBinding({
    body: { metadata: { name: clusterRoleName }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRoleName }, subjects },
  });
  if (scope === 'namespace') {
    // The namespaced install: the rules on namespaced objects as a Role in the one namespace it manages.
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'chatcluster-operator' }, rules: rules.clusterRules } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: { metadata: { name: 'chatcluster-operator' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'chatcluster-operator' }, subjects },
    });
  }
  const allowLeasesIn = async (leaseNamespace: string): Promise<void> => {
    await rbac.createNamespacedRole({ namespace: leaseNamespace, body: { metadata: { name: 'chatcluster-operator-leases' }, rules: rules.leaseRules } });
    await rbac.createNamespacedRoleBinding({
      namespace: leaseNamespace,
      body: {
        metadata: { name: 'chatcluster-operator-leases' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'chatcluster-operator-leases' },
        subjects,
      },
    });
  };
  await allowLeasesIn(namespace);

  const kubeconfig = await serviceAccountKubeconfig(admin, { namespace, name: SERVICE_ACCOUNT }, dir);

  return {
    kubeconfig,
    serviceAccount: { namespace, name: SERVICE_ACCOUNT },
    allowLeasesIn,
    async revoke() {
      await rbac.deleteClusterRoleBinding({ name: clusterRoleName }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: clusterRoleName }).catch(() => undefined);
    },
  };
}

/** A kubeconfig file that authenticates as a ServiceAccount (a TokenRequest token), for the same API server as `admin`. */
export async function serviceAccountKubeconfig(admin: KubeConfig, serviceAccount: { namespace: string; name: string }, dir: string): Promise<string> {
  const { namespace, name } = serviceAccount;
  const core = admin.makeApiClient(CoreV1Api);
  // No audiences: the token is for the API server's own (--api-audiences).
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = tokenRequest.status?.token;
  if (token === undefined || token === '') throw new Error('the TokenRequest API returned no token');
  const kubeconfig = join(dir, `${namespace}.${name}.kubeconfig`);
  writeFileSync(kubeconfig, kubeConfigWithToken(admin, token).exportConfig(), { mode: 0o600 });
  return kubeconfig;
}
