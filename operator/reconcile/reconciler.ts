import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1Deployment, V1Job, V1ObjectMeta, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { ZodError } from 'zod';
import { CHATCLUSTER_API_VERSION, parseChatClusterSpec, type ChatCluster, type ChatClusterStatus } from '../../common/chatcluster.js';
import type { Logger } from '../../common/log.js';
import type { NodeLoad } from '../autoscale/node-load.js';
import { decideReplicas, type Recommendation } from '../autoscale/decide.js';
import { observeLoad, type PodReport } from '../autoscale/observed-load.js';
import { deletionCostChanges, POD_DELETION_COST } from '../autoscale/deletion-cost.js';
import { SERVICE_MONITOR_API_VERSION, SERVICE_MONITOR_CRD, type AdminPortClients } from '../desired/access.js';
import { hashOf, namesOf } from '../desired/meta.js';
import { desiredObjects, nodeImage, wantsServiceMonitor } from '../desired/objects.js';
import { holdRollout } from '../desired/rollout-pace.js';
import { schemaJobName } from '../desired/schema-job.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Informer } from '../runtime/informer.js';
import { describeFailure, type KubeWriter } from './kube.js';
import { RecentWrites } from './recent-writes.js';
import { computeStatus, invalidSpecStatus, statusChanged } from './status.js';

const DESIRED_HASH = 'chatcluster.dev/desired-hash';
const UNCACHED_RECHECK_MS = 10 * 60_000;

/** The caches the reconciler reads, one informer per kind it watches. */
/** A ChatCluster as the informer holds it: spec not yet parsed. */
export type StoredChatCluster = KubernetesObject & { spec?: unknown; status?: ChatClusterStatus };

export interface Caches {
  chatClusters: Informer<StoredChatCluster>;
  owned: {
    ConfigMap: Informer;
    Service: Informer;
    Deployment: Informer<V1Deployment>;
    StatefulSet: Informer<V1StatefulSet>;
    Job: Informer<V1Job>;
    PodDisruptionBudget: Informer;
    NetworkPolicy: Informer;
    Pod: Informer<V1Pod>;
  };
}

/** Reads one node's admin `/load`; undefined when unreachable. */
export type LoadReader = (pod: V1Pod) => Promise<NodeLoad | undefined>;

export interface ReconcilerDeps {
  caches: Caches;
  writer: KubeWriter;
  metrics: OperatorMetrics;
  log: Logger;
  defaultImage: string;
  adminPortClients: AdminPortClients;
  readLoad: LoadReader;
  clock?: () => number;
}

export interface ReconcileResult {
  /** Look again after this long even without a change (autoscaling polls load; rollouts progress). */
  requeueAfterMs?: number;
}

/**
 * Makes one ChatCluster's owned objects match its spec and reports what it sees in its
 * status: observe (caches) → decide (pure functions) → apply what differs → status.
 */
export class Reconciler {
  private readonly scalingHistory = new Map<string, Recommendation[]>();
  /**
   * Writes to objects without a cache: the generated Secret (the operator may not read
   * Secrets, so it tries the create again after a while, a 409 when it is still there) and
   * the ServiceMonitor (not watched). One deleted by hand comes back within the recheck time.
   */
  private readonly uncachedWrites = new RecentWrites(UNCACHED_RECHECK_MS, () => this.now());
  private serviceMonitorCrd: { present: boolean; checkedAt: number } | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = '', name = ''] = key.split('/');
    const raw = this.deps.caches.chatClusters.get(namespace, name);
    if (raw?.metadata?.uid === undefined || raw.metadata.deletionTimestamp !== undefined) {
      // Gone or going: owner references let the garbage collector remove what it owned.
      this.scalingHistory.delete(key);
      // Its gauges go with it, or a deleted cluster would show (and alert on) stale replicas.
      this.deps.metrics.desiredReplicas.remove({ namespace, chatcluster: name });
      this.deps.metrics.readyReplicas.remove({ namespace, chatcluster: name });
      return {};
    }
    let cluster: ChatCluster;
    try {
      cluster = {
        apiVersion: CHATCLUSTER_API_VERSION,
        kind: 'ChatCluster',
        metadata: { name, namespace, uid: raw.metadata.uid, generation: raw.metadata.generation ?? 0 },
        spec: parseChatClusterSpec(raw.spec),
        ...(raw.status === undefined ? {} : { status: raw.status }),
      };
    } catch (error) {
      // The CRD schema refuses what this parser would; reaching here means the two disagree.
      // Retrying cannot help: said once per generation, in status and an Event, until the spec changes.
      const message = error instanceof ZodError ? error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') : String(error);
      const generation = raw.metadata.generation ?? 0;
      const status = raw.status;
      const invalid = invalidSpecStatus(status, generation, message, new Date(this.now()));
      if (!statusChanged(status, invalid)) return {};
      this.deps.log.error({ key, message }, 'spec the API server accepted does not parse');
      await this.deps.writer.patchStatus(namespace, name, invalid);
      await this.deps.writer.event({ namespace, name, uid: raw.metadata.uid }, 'Warning', 'InvalidSpec', invalid.conditions?.at(-1)?.message ?? message);
      return {};
    }

    try {
      return await this.converge(cluster, key);
    } catch (error) {
      const message = describeFailure(error);
      await this.writeStatus(cluster, this.observe(cluster, cluster.status?.replicas ?? 0, cluster.status?.connections ?? 0, message));
      await this.deps.writer.event(this.involved(cluster), 'Warning', 'ReconcileFailed', message);
      throw error;
    }
  }

  private involved(cluster: ChatCluster): { namespace: string; name: string; uid: string } {
    return { namespace: cluster.metadata.namespace, name: cluster.metadata.name, uid: cluster.metadata.uid };
  }

  private async converge(cluster: ChatCluster, key: string): Promise<ReconcileResult> {
    const { writer, caches, log } = this.deps;
    const names = namesOf(cluster);
    const { namespace } = cluster.metadata;
    const deployment = caches.owned.Deployment.get(namespace, names.nodes);
    const currentReplicas = deployment?.spec?.replicas ?? 0;

    const load = observeLoad(await this.nodeLoads(cluster));
    let nodeReplicas = cluster.spec.replicas;
    if (cluster.spec.autoscaling.enabled) {
      const decision = decideReplicas({
        autoscaling: cluster.spec.autoscaling,
        currentReplicas: currentReplicas === 0 ? cluster.spec.autoscaling.minReplicas : currentReplicas,
        connections: load.connections,
        cpuUtilization: load.cpuUtilization,
        now: this.now(),
        history: this.scalingHistory.get(key) ?? [],
      });
      this.scalingHistory.set(key, decision.history);
      nodeReplicas = decision.replicas;
      if (deployment !== undefined && nodeReplicas !== currentReplicas) {
        await writer.event(this.involved(cluster), 'Normal', 'Scaled', `${currentReplicas} → ${nodeReplicas} nodes: ${decision.reason}`);
      }
      if (deployment !== undefined && nodeReplicas < currentReplicas) {
        // Before the Deployment shrinks: the least-loaded pods are the ones it deletes (and they drain on SIGTERM).
        const changes = deletionCostChanges(load.candidates);
        for (const change of changes) await writer.annotatePod(namespace, change.name, { [POD_DELETION_COST]: change.cost });
      }
    }
    this.deps.metrics.desiredReplicas.set({ namespace, chatcluster: cluster.metadata.name }, nodeReplicas);

    const serviceMonitorCrdPresent = cluster.spec.monitoring.serviceMonitor === 'auto' ? await this.serviceMonitorCrdPresent() : false;
    const rolloutHeld = holdRollout(deployment, this.nodePods(cluster), this.now());
    const jobName = this.schemaJobNameOf(cluster);
    // Nodes roll to a new image only once its schema Job has succeeded.
    const schemaReady = this.schemaSucceeded(cluster, jobName);
    const plan = desiredObjects(
      cluster,
      { nodeReplicas, defaultImage: this.deps.defaultImage, serviceMonitorCrdPresent, schemaReady, holdRollout: rolloutHeld, adminPortClients: this.deps.adminPortClients },
      () => randomBytes(32).toString('base64url'),
    );
    const objects = plan.applied;

    for (const object of plan.createOnly) {
      // By the cluster's uid: a ChatCluster deleted and created again under its name needs a new one.
      const id = `${cluster.metadata.uid}/${object.kind ?? ''}/${object.metadata?.name ?? ''}`;
      if (this.uncachedWrites.isFresh(id, 'created')) continue;
      if (await writer.createIfMissing(object)) {
        await writer.event(this.involved(cluster), 'Normal', 'Created', `generated ${object.kind ?? ''} ${object.metadata?.name ?? ''}`);
      }
      this.uncachedWrites.record(id, 'created');
    }
    let applied = 0;
    for (const object of objects) {
      if (await this.applyIfChanged(cluster, object)) applied += 1;
    }
    if (applied > 0) log.info({ key, applied }, 'applied changed objects');
    await this.prune(cluster, jobName, schemaReady, objects);

    const observed = this.observe(cluster, nodeReplicas, load.openConnections);
    await this.writeStatus(cluster, observed);
    this.deps.metrics.readyReplicas.set({ namespace, chatcluster: cluster.metadata.name }, observed.deployment?.status?.readyReplicas ?? 0);
    // Load changes without any watch event: poll it while autoscaling; a held rollout, in case a pod's going is missed.
    if (rolloutHeld) return { requeueAfterMs: 5_000 };
    return cluster.spec.autoscaling.enabled ? { requeueAfterMs: 15_000 } : {};
  }

  private observe(cluster: ChatCluster, desiredReplicas: number, connections: number, error?: string) {
    const { owned } = this.deps.caches;
    const names = namesOf(cluster);
    const { namespace } = cluster.metadata;
    return {
      deployment: owned.Deployment.get(namespace, names.nodes),
      redis: owned.StatefulSet.get(namespace, names.redis),
      cassandra: owned.StatefulSet.get(namespace, names.cassandra),
      schemaJob: owned.Job.get(namespace, this.schemaJobNameOf(cluster)),
      desiredReplicas,
      connections,
      error,
    };
  }

  private async writeStatus(cluster: ChatCluster, observed: ReturnType<Reconciler['observe']>): Promise<void> {
    const status = computeStatus(cluster, observed, new Date(this.now()));
    if (!statusChanged(cluster.status, status)) return;
    await this.deps.writer.patchStatus(cluster.metadata.namespace, cluster.metadata.name, status);
    if (cluster.status?.phase !== status.phase) {
      await this.deps.writer.event(this.involved(cluster), status.phase === 'Degraded' ? 'Warning' : 'Normal', `Phase${status.phase ?? ''}`, `phase is now ${status.phase ?? ''}`);
    }
  }

  private schemaJobNameOf(cluster: ChatCluster): string {
    return schemaJobName(cluster, nodeImage(cluster, this.deps.defaultImage));
  }

  private schemaSucceeded(cluster: ChatCluster, jobName: string): boolean {
    const job = this.deps.caches.owned.Job.get(cluster.metadata.namespace, jobName);
    return (job?.status?.succeeded ?? 0) > 0;
  }

  /** Applies an object unless the live one was applied from the same desired state (no write at steady state). */
  private async applyIfChanged(cluster: ChatCluster, object: KubernetesObject): Promise<boolean> {
    const hash = hashOf(object);
    const cache = this.cacheFor(object.kind);
    const id = `${cluster.metadata.uid}/${object.kind ?? ''}/${object.metadata?.name ?? ''}`;
    if (cache === undefined) {
      if (this.uncachedWrites.isFresh(id, hash)) return false;
    } else if (cache.get(object.metadata?.namespace ?? '', object.metadata?.name ?? '')?.metadata?.annotations?.[DESIRED_HASH] === hash) {
      return false;
    }
    const metadata: V1ObjectMeta = Object.assign({}, object.metadata);
    metadata.annotations = { ...metadata.annotations, [DESIRED_HASH]: hash };
    await this.deps.writer.apply({ ...object, metadata });
    if (cache === undefined) this.uncachedWrites.record(id, hash);
    return true;
  }

  private cacheFor(kind: string | undefined): Informer | undefined {
    return kind !== undefined && kind in this.deps.caches.owned ? this.deps.caches.owned[kind as keyof Caches['owned']] : undefined;
  }

  /**
   * Deletes owned objects the spec no longer calls for: schema Jobs of earlier images once
   * the current one succeeded, a dependency switched from managed to external.
   */
  private async prune(cluster: ChatCluster, schemaJobName: string, schemaReady: boolean, wanted: readonly KubernetesObject[]): Promise<void> {
    const { owned } = this.deps.caches;
    const ownedByThis = (object: KubernetesObject): boolean =>
      object.metadata?.namespace === cluster.metadata.namespace && (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === cluster.metadata.uid);
    const wantedKeys = new Set(wanted.map((object) => `${object.kind ?? ''}/${object.metadata?.name ?? ''}`));
    const stale = [
      ...(schemaReady ? owned.Job.list().filter((job) => ownedByThis(job) && job.metadata?.name !== schemaJobName) : []),
      ...owned.StatefulSet.list().filter((set) => ownedByThis(set) && !wantedKeys.has(`StatefulSet/${set.metadata?.name ?? ''}`)),
      ...[...owned.Service.list(), ...owned.NetworkPolicy.list()].filter(
        (object) =>
          ownedByThis(object) &&
          object.metadata?.labels?.['app.kubernetes.io/component'] !== 'node' &&
          !wantedKeys.has(`${object.kind ?? ''}/${object.metadata?.name ?? ''}`),
      ),
    ];
    for (const object of stale) {
      await this.deps.writer.delete({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name, namespace: object.metadata?.namespace } });
      await this.deps.writer.event(this.involved(cluster), 'Normal', 'Deleted', `deleted ${object.kind ?? ''} ${object.metadata?.name ?? ''}, no longer wanted`);
    }
    const serviceMonitorId = `${cluster.metadata.uid}/ServiceMonitor/${namesOf(cluster).nodes}`;
    if (!wantsServiceMonitor(cluster, true) && !this.uncachedWrites.isFresh(serviceMonitorId, 'deleted') && (await this.serviceMonitorCrdPresent())) {
      await this.deps.writer.delete({ apiVersion: SERVICE_MONITOR_API_VERSION, kind: 'ServiceMonitor', metadata: { name: namesOf(cluster).nodes, namespace: cluster.metadata.namespace } });
      this.uncachedWrites.record(serviceMonitorId, 'deleted');
    }
  }

  /** This cluster's node pods, terminating ones too. */
  private nodePods(cluster: ChatCluster): V1Pod[] {
    return this.deps.caches.owned.Pod.list().filter(
      (pod) =>
        pod.metadata?.namespace === cluster.metadata.namespace &&
        pod.metadata.labels?.['app.kubernetes.io/instance'] === cluster.metadata.name &&
        pod.metadata.labels['app.kubernetes.io/component'] === 'node',
    );
  }

  /** `/load` of each ready node pod (undefined: it did not answer). */
  private async nodeLoads(cluster: ChatCluster): Promise<PodReport[]> {
    const pods = this.nodePods(cluster).filter((pod) => pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true);
    return Promise.all(
      pods.map(async (pod) => ({ name: pod.metadata?.name ?? '', load: await this.deps.readLoad(pod), cost: pod.metadata?.annotations?.[POD_DELETION_COST] })),
    );
  }

  private async serviceMonitorCrdPresent(): Promise<boolean> {
    const now = this.now();
    if (this.serviceMonitorCrd === undefined || now - this.serviceMonitorCrd.checkedAt > 60_000) {
      this.serviceMonitorCrd = { present: await this.deps.writer.crdExists(SERVICE_MONITOR_CRD), checkedAt: now };
    }
    return this.serviceMonitorCrd.present;
  }

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }
}
