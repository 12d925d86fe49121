import { hostname } from 'node:os';
import { z } from 'zod';
import { portNumber, readVariable } from '../common/env.js';

/** The operator's configuration, read once from the environment. */
export interface OperatorConfig {
  /** Watch one namespace (the namespaced install), or every namespace when unset. */
  watchNamespace: string | undefined;
  /** Where the leader-election Lease lives (the operator's own namespace). */
  leaseNamespace: string;
  /** This process's identity for leader election (the pod name in Kubernetes). */
  identity: string;
  leaderElection: boolean;
  /** The chat node image used when a ChatCluster names none. */
  defaultNodeImage: string;
  /** Port of /healthz, /readyz and /metrics. */
  healthPort: number;
  /** ChatClusters reconciled at once. */
  concurrency: number;
  /** Apply this release's ChatCluster CRD at start when the installed one is older (Helm never upgrades CRDs). */
  manageCrd: boolean;
  /** Name of the leader-election Lease, one per installation. */
  leaseName: string;
  /** Where Prometheus runs, the one namespace whose Prometheus pods may scrape the nodes (undefined: any). */
  prometheusNamespace: string | undefined;
}

/** The node image this operator release runs by default. */
export const RELEASED_NODE_IMAGE = 'chatcluster/chat-node:0.1.0';

export function loadOperatorConfig(env: NodeJS.ProcessEnv): OperatorConfig {
  const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a Kubernetes name');
  return {
    watchNamespace: readVariable(env, 'WATCH_NAMESPACE', name.optional()),
    leaseNamespace: readVariable(env, 'OPERATOR_NAMESPACE', name.default('default')),
    identity: readVariable(env, 'POD_NAME', z.string().min(1).default(`${hostname()}-${process.pid}`)),
    leaderElection: readVariable(env, 'LEADER_ELECTION', z.enum(['true', 'false']).default('true')) === 'true',
    defaultNodeImage: readVariable(env, 'CHAT_NODE_IMAGE', z.string().min(1).default(RELEASED_NODE_IMAGE)),
    healthPort: readVariable(env, 'HEALTH_PORT', portNumber.default(8081)),
    concurrency: readVariable(env, 'RECONCILE_CONCURRENCY', z.coerce.number().int().min(1).max(64).default(4)),
    manageCrd: readVariable(env, 'MANAGE_CRD', z.enum(['true', 'false']).default('false')) === 'true',
    prometheusNamespace: readVariable(env, 'PROMETHEUS_NAMESPACE', name.optional()),
    leaseName: readVariable(env, 'LEASE_NAME', z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a DNS subdomain').default('chatcluster-operator')),
  };
}
