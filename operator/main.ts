/**
 * The ChatCluster operator: `node dist/operator/main.js` with the ambient kubeconfig
 * (KUBECONFIG, ~/.kube/config) or in-cluster credentials. Wires informers, the work
 * queue, the reconciler, leader election and the health endpoints; the logic lives in
 * desired/, reconcile/ and autoscale/.
 */
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { CHATCLUSTER_API_VERSION, CHATCLUSTER_KIND, CHATCLUSTER_PLURAL } from '../common/chatcluster.js';
import { ConfigError } from '../common/env.js';
import { createLogger } from '../common/log.js';
import { loadOperatorConfig } from './config.js';
import { upgradeOwnCrd } from './crd/upgrade.js';
import { readNodeLoad } from './autoscale/node-load.js';
import { askSentinels } from './reconcile/redis-primary.js';
import { OperatorMetrics } from './metrics.js';
import { KubeWriter } from './reconcile/kube.js';
import type { Caches } from './reconcile/caches.js';
import { Reconciler } from './reconcile/reconciler.js';
import { controllerKey, generationChanged } from './runtime/event-filters.js';
import { createHealthServer } from './runtime/health.js';
import { Informer, keyOf, type InformerOptions } from './runtime/informer.js';
import { LeaderElector } from './runtime/leader.js';
import { WorkQueue } from './runtime/workqueue.js';

const log = createLogger('chatcluster-operator');

function main(): void {
  const config = loadOperatorConfig(process.env);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const metrics = new OperatorMetrics();
  let ready = false;
  // Until this release's CRD is served, no replica is ready, so `helm upgrade --wait` returns
  // only once the new schema is in place.
  let crdCurrent = !config.manageCrd;

  const queue = new WorkQueue(
    async (key) => {
      const stop = metrics.reconcileDuration.startTimer();
      try {
        const result = await reconciler.reconcile(key);
        metrics.reconciles.inc({ result: 'success' });
        if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        metrics.reconciles.inc({ result: 'error' });
        log.warn({ err: error, key }, 'reconcile failed; retrying with back-off');
        throw error;
      } finally {
        stop();
      }
    },
    { concurrency: config.concurrency, onDepth: (depth) => { metrics.queueDepth.set(depth); } },
  );

  const specChanged = generationChanged();
  const enqueueOwner = (_type: string, object: KubernetesObject): void => {
    const key = controllerKey(object, CHATCLUSTER_KIND);
    if (key !== undefined) queue.add(key);
  };
  const informer = <T extends KubernetesObject>(options: Omit<InformerOptions, 'namespace' | 'log'>): Informer<T> =>
    new Informer<T>(kubeConfig, { ...options, log, ...(config.watchNamespace === undefined ? {} : { namespace: config.watchNamespace }) });
  const managed = 'app.kubernetes.io/managed-by=chatcluster-operator';
  const caches: Caches = {
    chatClusters: informer({
      apiVersion: CHATCLUSTER_API_VERSION,
      kind: CHATCLUSTER_KIND,
      plural: CHATCLUSTER_PLURAL,
      onChange: (type, object) => {
        if (specChanged(type, object)) queue.add(keyOf(object));
      },
    }),
    owned: {
      ConfigMap: informer({ apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', labelSelector: managed, onChange: enqueueOwner }),
      Service: informer({ apiVersion: 'v1', kind: 'Service', plural: 'services', labelSelector: managed, onChange: enqueueOwner }),
      Deployment: informer({ apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', labelSelector: managed, onChange: enqueueOwner }),
      StatefulSet: informer({ apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', labelSelector: managed, onChange: enqueueOwner }),
      Job: informer({ apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', labelSelector: managed, onChange: enqueueOwner }),
      PodDisruptionBudget: informer({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', labelSelector: managed, onChange: enqueueOwner }),
      NetworkPolicy: informer({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', labelSelector: managed, onChange: enqueueOwner }),
      // Node pods: their readiness and addresses feed the autoscaler; their changes need no reconcile.
      Pod: informer({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', labelSelector: `${managed},app.kubernetes.io/component=node`, onChange: () => undefined }),
    },
  };
  const reconciler = new Reconciler({
    caches,
    writer: new KubeWriter(kubeConfig, metrics),
    metrics,
    log,
    defaultImage: config.defaultNodeImage,
    adminPortClients: { operatorNamespace: config.leaseNamespace, prometheusNamespace: config.prometheusNamespace },
    readLoad: readNodeLoad,
    readRedisPrimary: askSentinels,
  });

  const startControllers = async (): Promise<void> => {
    metrics.leader.set(1);
    // Owned objects first, so the first reconciles see them in the caches.
    await Promise.all(Object.values(caches.owned).map((cache) => cache.start()));
    await caches.chatClusters.start();
    ready = true;
    log.info({ namespace: config.watchNamespace ?? '(all)', identity: config.identity }, 'controllers started');
  };

  // A leader that cannot start (the CRD upgrade refused, say) exits, so Kubernetes restarts it with back-off and shows why.
  const startOrExit = async (): Promise<void> => {
    try {
      await startControllers();
    } catch (error) {
      log.fatal({ err: error }, 'could not start the controllers');
      process.exit(1);
    }
  };

  const server = createHealthServer(() => ({ crdCurrent, controllersStarted: ready, leaderElection: config.leaderElection }), metrics.registry);
  server.listen(config.healthPort);

  const elector = config.leaderElection
    ? new LeaderElector(kubeConfig, { namespace: config.leaseNamespace, name: config.leaseName, identity: config.identity, log })
    : undefined;
  const shutdown = async (signal: string): Promise<void> => {
    log.info({ signal }, 'shutting down');
    await queue.stop();
    for (const cache of [caches.chatClusters, ...Object.values(caches.owned)]) cache.stop();
    await elector?.release();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const campaign = (): void => {
    if (elector === undefined) {
      void startOrExit();
      return;
    }
    elector.run(
      () => void startOrExit(),
      () => {
        // controller-runtime's choice: a leader that cannot renew stops at once, and restarts as a candidate.
        log.error('leadership lost; exiting');
        process.exit(1);
      },
    );
  };

  // Every replica, before it campaigns: a standby too, so the schema changes with the rollout
  // rather than whenever leadership next moves. Concurrent applies are safe (same content,
  // and an older release never replaces a newer CRD).
  if (config.manageCrd) {
    void upgradeOwnCrd(kubeConfig, log).then(
      () => {
        crdCurrent = true;
        campaign();
      },
      (error: unknown) => {
        log.fatal({ err: error }, 'could not bring the ChatCluster CRD up to date');
        process.exit(1);
      },
    );
  } else {
    campaign();
  }
}

try {
  main();
} catch (error) {
  if (error instanceof ConfigError) log.fatal({ variable: error.variable }, `invalid configuration: ${error.message}`);
  else log.fatal({ err: error }, 'operator failed to start');
  process.exit(1);
}
