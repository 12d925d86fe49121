/**
 * A ChatCluster and a desired-objects context as the operator would hold them, for the unit
 * tests of what it makes (pure: no servers).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseChatClusterSpec, type ChatCluster } from '../../common/chatcluster.js';
import { desiredObjects, type DesiredContext } from '../../operator/desired/objects.js';

/** The ChatCluster `demo` in `team-a` with `spec` parsed (defaults filled in) as the operator parses it. */
export function chatClusterOf(spec: unknown = {}, metadata: Partial<ChatCluster['metadata']> = {}): ChatCluster {
  return {
    apiVersion: 'chatcluster.dev/v1alpha1',
    kind: 'ChatCluster',
    metadata: { name: 'demo', namespace: 'team-a', uid: 'uid-1', generation: 1, ...metadata },
    spec: parseChatClusterSpec(spec),
  };
}

/** One node, the schema ready, no ServiceMonitor CRD, the operator in `ops`. */
export const DESIRED_CONTEXT: DesiredContext = {
  nodeReplicas: 1,
  defaultImage: 'img',
  serviceMonitorCrdPresent: false,
  schemaReady: true,
  nodeMinReadySeconds: undefined,
  adminPortClients: { operatorNamespace: 'ops', prometheusNamespace: undefined },
};

/** Three nodes of the released image, the operator in the chart's namespace. */
export const THREE_NODE_CONTEXT: DesiredContext = {
  ...DESIRED_CONTEXT,
  nodeReplicas: 3,
  defaultImage: 'chatcluster/chat-node:0.1.0',
  adminPortClients: { operatorNamespace: 'chatcluster-system', prometheusNamespace: undefined },
};

/** The objects the operator applies for `cluster` (generated secrets read 's'). */
export function appliedObjects(cluster: ChatCluster, overrides: Partial<DesiredContext> = {}): KubernetesObject[] {
  return desiredObjects(cluster, { ...DESIRED_CONTEXT, ...overrides }, () => 's').applied;
}
