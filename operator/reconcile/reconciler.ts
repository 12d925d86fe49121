import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { ZodError } from 'zod';
import { CHATCLUSTER_API_VERSION, parseChatClusterSpec, type ChatCluster } from '../../common/chatcluster.js';
import type { Logger } from '../../common/log.js';
import type { NodeLoad } from '../autoscale/node-load.js';
import type { Recommendation } from '../autoscale/decide.js';
import { POD_DELETION_COST } from '../autoscale/deletion-cost.js';
import { observeLoad, podStanding, type PodReport } from '../autoscale/observed-load.js';
import { SERVICE_MONITOR_API_VERSION, SERVICE_MONITOR_CRD, type AdminPortClients } from '../desired/access.js';
import { operatorSignsCertificate } from '../desired/encryption.js';
import { namesOf } from '../desired/meta.js';
import { desiredObjects, nodeImage, wantsServiceMonitor } from '../desired/objects.js';
import { nodeTemplateHash } from '../desired/node.js';
import { REDIS_MASTER_NAME, sentinelAddresses } from '../desired/redis.js';
import { resolveManagedRedis, withResolvedRedis } from '../desired/redis-mode.js';
import { rolloutMinReadySeconds } from '../desired/rollout-pace.js';
import { resealJobName, resealOutcome } from '../desired/reseal-job.js';
import { schemaJobName } from '../desired/schema-job.js';
import type { OperatorMetrics } from '../metrics.js';
import { applyIfChanged, LastApplied } from './apply.js';
import { cacheFor, type Caches } from './caches.js';
import { describeFailure, type KubeWriter } from './kube.js';
import { RecentWrites } from './recent-writes.js';
import { scaleNodes } from './scale.js';
import { computeStatus, invalidSpecStatus, statusChanged, statusPatch, type Observed } from './status.js';
import { objectsToReplace, staleObjects } from './prune.js';
import type { PrimaryReader, SentinelAnswer } from './redis-primary.js';
import { CertificateAuthorities, SelfSignedCertificates } from './self-signed-tls.js';
import { AtRestKeyVersions } from './at-rest-keys.js';
import { managedRedisTls } from '../desired/redis-tls.js';
import { CERTIFICATE_API_VERSION, CERTIFICATE_CRD } from '../desired/certificate.js';

const UNCACHED_RECHECK_MS = 10 * 60_000;
/** How often the nodes' load is read while autoscaling (an HPA's sync period). */
const AUTOSCALING_POLL_MS = 15_000;
/** How often it is read without autoscaling, only to keep status.connections current. */
const CONNECTIONS_POLL_MS = 60_000;
const SENTINEL_RECHECK_MS = 30_000;
/** How often a ChatCluster waiting for cert-manager looks for it again. */
const BLOCKED_RECHECK_MS = 15_000;

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
  /** Asks a managed Redis's Sentinels which pod is primary. */
  readRedisPrimary: PrimaryReader;
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
  /** What this operator's own writes left on the objects, so it sees a hand edit as a change. */
  private readonly lastApplied = new LastApplied();
  /** The uids of the reseal Jobs whose outcome has been told in an Event (once per operator process). */
  private readonly resealsTold = new Set<string>();
  /**
   * Writes to objects without a cache: the generated Secret (the operator may not read
   * Secrets, so it tries the create again after a while, a 409 when it is still there) and
   * the ServiceMonitor (not watched). One deleted by hand comes back within the recheck time.
   */
  private readonly uncachedWrites = new RecentWrites(UNCACHED_RECHECK_MS, () => this.now());
  private serviceMonitorCrd: { present: boolean; checkedAt: number } | undefined;
  /** When cert-manager's Certificate CRD was last seen (its absence is not remembered: a blocked cluster asks again). */
  private certificateCrdSeenAt: number | undefined;
  private readonly selfSigned: SelfSignedCertificates;
  private readonly keyVersions: AtRestKeyVersions;
  private readonly certificateAuthorities: CertificateAuthorities;

  constructor(private readonly deps: ReconcilerDeps) {
    this.selfSigned = new SelfSignedCertificates(deps.writer, () => this.now());
    this.keyVersions = new AtRestKeyVersions(deps.writer, () => this.now());
    this.certificateAuthorities = new CertificateAuthorities(deps.writer, () => this.now());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = '', name = ''] = key.split('/');
    const raw = this.deps.caches.chatClusters.get(namespace, name);
    if (raw?.metadata?.uid === undefined || raw.metadata.deletionTimestamp !== undefined) {
      // Gone or going: owner references let the garbage collector remove what it owned.
      this.scalingHistory.delete(key);
      this.lastApplied.forget(key);
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
      // An unset Redis mode is decided once, here, with the running Redis in view (redis-mode.ts).
      cluster = withResolvedRedis(cluster, this.deps.caches.owned.StatefulSet.get(namespace, namesOf(cluster).redis));
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
      await this.writeStatus(cluster, this.observe(cluster, cluster.status?.replicas ?? 0, cluster.status?.connections ?? 0, this.schemaJobNameOf(cluster), message));
      await this.deps.writer.event(cluster.metadata, 'Warning', 'ReconcileFailed', message);
      throw error;
    }
  }

  private async converge(cluster: ChatCluster, key: string): Promise<ReconcileResult> {
    const { writer, caches, log } = this.deps;
    const names = namesOf(cluster);
    const { namespace } = cluster.metadata;
    // A spec the cluster cannot serve yet is not applied at all (nodes mounting a Secret nobody writes); what runs keeps running.
    const blocked = await this.blockedBy(cluster);
    if (blocked !== undefined) {
      await this.writeStatus(cluster, { ...this.observe(cluster, cluster.status?.replicas ?? 0, cluster.status?.connections ?? 0, this.schemaJobNameOf(cluster)), blocked });
      return { requeueAfterMs: BLOCKED_RECHECK_MS };
    }
    const deployment = caches.owned.Deployment.get(namespace, names.nodes);
    const load = observeLoad(await this.nodeLoads(cluster));
    const scaled = await scaleNodes({ cluster, deployment, load, now: this.now(), history: this.scalingHistory.get(key), writer });
    if (scaled.history === undefined) this.scalingHistory.delete(key);
    else this.scalingHistory.set(key, scaled.history);
    const nodeReplicas = scaled.replicas;
    this.deps.metrics.desiredReplicas.set({ namespace, chatcluster: cluster.metadata.name }, nodeReplicas);

    // The certificate Secret first, so the pods that mount it find it.
    const certificateRecheckAt = await this.ensureCertificates(cluster);
    const serviceMonitorCrdPresent = cluster.spec.monitoring.serviceMonitor === 'auto' ? await this.serviceMonitorCrdPresent() : false;
    const nodeMinReadySeconds = rolloutMinReadySeconds(deployment, nodeTemplateHash(cluster, nodeImage(cluster, this.deps.defaultImage)));
    const jobName = this.schemaJobNameOf(cluster);
    // Nodes roll to a new image only once its schema Job has succeeded.
    const schemaReady = this.schemaSucceeded(cluster, jobName);
    const newestKeyVersion = schemaReady ? await this.keyVersions.newest(cluster) : undefined;
    const plan = desiredObjects(
      cluster,
      {
        nodeReplicas,
        defaultImage: this.deps.defaultImage,
        serviceMonitorCrdPresent,
        schemaReady,
        liveNodeDeployment: deployment,
        nodeMinReadySeconds,
        adminPortClients: this.deps.adminPortClients,
        newestKeyVersion,
      },
      () => randomBytes(32).toString('base64url'),
    );
    const objects = plan.applied;
    for (const object of objectsToReplace(caches.owned, objects)) {
      // The cache may still hold an object this operator already deleted (its watch event not yet in).
      const uid = object.metadata?.uid ?? '';
      if (this.uncachedWrites.isFresh(`replaced/${uid}`, 'deleted')) continue;
      this.uncachedWrites.record(`replaced/${uid}`, 'deleted');
      await writer.delete({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name, namespace: object.metadata?.namespace } });
      await writer.event(cluster.metadata, 'Normal', 'Replaced', `deleted ${object.kind ?? ''} ${object.metadata?.name ?? ''} to make it again: what changed cannot change in place`);
    }

    for (const object of plan.createOnly) {
      // By the cluster's uid: a ChatCluster deleted and created again under its name needs a new one.
      const id = `${cluster.metadata.uid}/${object.kind ?? ''}/${object.metadata?.name ?? ''}`;
      if (this.uncachedWrites.isFresh(id, 'created')) continue;
      if (await writer.createIfMissing(object)) {
        await writer.event(cluster.metadata, 'Normal', 'Created', `generated ${object.kind ?? ''} ${object.metadata?.name ?? ''}`);
      }
      this.uncachedWrites.record(id, 'created');
    }
    let applied = 0;
    for (const object of objects) {
      if (await applyIfChanged(cluster, object, { cache: cacheFor(caches, object.kind), writer, uncachedWrites: this.uncachedWrites, lastApplied: this.lastApplied, clusterKey: key })) applied += 1;
    }
    if (applied > 0) log.info({ key, applied }, 'applied changed objects');
    await this.prune(cluster, [...objects, ...plan.createOnly], { jobName: plan.schemaJobName, ready: schemaReady });

    if (newestKeyVersion !== undefined) await this.tellResealOutcome(cluster, newestKeyVersion);

    const observed = this.observe(cluster, nodeReplicas, load.openConnections, plan.schemaJobName);
    await this.writeStatus(cluster, { ...observed, sentinels: await this.askRedisPrimary(cluster, observed.redis) });
    this.deps.metrics.readyReplicas.set({ namespace, chatcluster: cluster.metadata.name }, observed.deployment?.status?.readyReplicas ?? 0);
    // Load changes without any watch event: poll it, often while autoscaling, and without
    // autoscaling now and then for status.connections (the Connections column).
    // A failover changes no Kubernetes object either: look at the Sentinels now and then.
    // A certificate's renewal is due at a time, not on an event: look again by then.
    const polls = [
      cluster.spec.autoscaling.enabled ? AUTOSCALING_POLL_MS : CONNECTIONS_POLL_MS,
      ...(observed.redisMode === 'sentinel' ? [SENTINEL_RECHECK_MS] : []),
      ...(certificateRecheckAt === undefined ? [] : [Math.max(1000, certificateRecheckAt - this.now())]),
    ];
    return { requeueAfterMs: Math.min(...polls) };
  }

  /** Why this spec cannot be applied in this cluster, if it cannot: spec.tls.issuerRef without cert-manager. */
  private async blockedBy(cluster: ChatCluster): Promise<{ reason: string; message: string } | undefined> {
    const issuerRef = cluster.spec.tls?.issuerRef;
    if (issuerRef === undefined || (await this.certificateCrdPresent())) return undefined;
    return {
      reason: 'CertManagerMissing',
      message: `spec.tls.issuerRef (${issuerRef.kind} ${issuerRef.name}) needs cert-manager, whose CRD ${CERTIFICATE_CRD} is not installed; nothing of this generation was applied (install cert-manager, or use spec.tls.secretName or selfSigned)`,
    };
  }

  private async certificateCrdPresent(): Promise<boolean> {
    const now = this.now();
    if (this.certificateCrdSeenAt !== undefined && now - this.certificateCrdSeenAt < 60_000) return true;
    const present = await this.deps.writer.crdExists(CERTIFICATE_CRD);
    this.certificateCrdSeenAt = present ? now : undefined;
    return present;
  }

  /** The operator's own CA and certificate when the spec calls for them; when to look at them again. */
  private async ensureCertificates(cluster: ChatCluster): Promise<number | undefined> {
    if (!operatorSignsCertificate(cluster)) return undefined;
    const { recheckAt, written } = await this.selfSigned.ensure(cluster);
    for (const secret of written) await this.deps.writer.event(cluster.metadata, 'Normal', 'Certificate', `wrote Secret ${secret.name}, ${secret.reason}`);
    return recheckAt;
  }

  /** An Event once the newest key version's reseal Job has ended: whether older versions may go. */
  private async tellResealOutcome(cluster: ChatCluster, version: number): Promise<void> {
    const job = this.deps.caches.owned.Job.get(cluster.metadata.namespace, resealJobName(cluster, version));
    const uid = job?.metadata?.uid;
    if (job === undefined || uid === undefined || this.resealsTold.has(uid)) return;
    const outcome = resealOutcome(job, version);
    if (outcome === undefined) return;
    await this.deps.writer.event(cluster.metadata, outcome.type, outcome.reason, outcome.message);
    this.resealsTold.add(uid);
  }

  /** The Sentinels' answer, once every Redis pod is ready (before, the condition waits on the pods anyway). */
  private async askRedisPrimary(cluster: ChatCluster, statefulSet: V1StatefulSet | undefined): Promise<SentinelAnswer | undefined> {
    const managed = resolveManagedRedis(cluster);
    if (managed?.mode !== 'sentinel' || (statefulSet?.status?.readyReplicas ?? 0) < managed.replicas) return undefined;
    if (managedRedisTls(cluster) === undefined) return this.deps.readRedisPrimary(sentinelAddresses(cluster, managed), REDIS_MASTER_NAME);
    // Sentinels on TLS: trusted through the CA in the ChatCluster's certificate Secret; none yet, nothing is asked.
    const ca = await this.certificateAuthorities.of(cluster);
    return ca === undefined ? { reached: false } : this.deps.readRedisPrimary(sentinelAddresses(cluster, managed), REDIS_MASTER_NAME, { ca });
  }

  private observe(cluster: ChatCluster, desiredReplicas: number, connections: number, jobName: string, error?: string) {
    const { owned } = this.deps.caches;
    const names = namesOf(cluster);
    const { namespace } = cluster.metadata;
    return {
      deployment: owned.Deployment.get(namespace, names.nodes),
      redis: owned.StatefulSet.get(namespace, names.redis),
      cassandra: owned.StatefulSet.get(namespace, names.cassandra),
      schemaJob: owned.Job.get(namespace, jobName),
      redisMode: resolveManagedRedis(cluster)?.mode,
      desiredReplicas,
      connections,
      error,
    };
  }

  private async writeStatus(cluster: ChatCluster, observed: Observed): Promise<void> {
    const status = computeStatus(cluster, observed, new Date(this.now()));
    if (!statusChanged(cluster.status, status)) return;
    await this.deps.writer.patchStatus(cluster.metadata.namespace, cluster.metadata.name, statusPatch(cluster.status, status));
    if (cluster.status?.phase !== status.phase) {
      await this.deps.writer.event(cluster.metadata, status.phase === 'Degraded' ? 'Warning' : 'Normal', `Phase${status.phase ?? ''}`, `phase is now ${status.phase ?? ''}`);
    }
  }

  private schemaJobNameOf(cluster: ChatCluster): string {
    return schemaJobName(cluster, nodeImage(cluster, this.deps.defaultImage));
  }

  private schemaSucceeded(cluster: ChatCluster, jobName: string): boolean {
    const job = this.deps.caches.owned.Job.get(cluster.metadata.namespace, jobName);
    return (job?.status?.succeeded ?? 0) > 0;
  }

  /** Deletes what the spec no longer calls for (staleObjects), and a ServiceMonitor no longer wanted. */
  private async prune(cluster: ChatCluster, wanted: readonly KubernetesObject[], schema: { jobName: string; ready: boolean }): Promise<void> {
    for (const object of staleObjects(cluster, this.deps.caches.owned, wanted, schema)) {
      await this.deps.writer.delete({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name, namespace: object.metadata?.namespace } });
      await this.deps.writer.event(cluster.metadata, 'Normal', 'Deleted', `deleted ${object.kind ?? ''} ${object.metadata?.name ?? ''}, no longer wanted`);
    }
    // A Certificate no longer asked for goes (the Secret it wrote stays until the ChatCluster does).
    const certificateId = `${cluster.metadata.uid}/Certificate/${namesOf(cluster).tls}`;
    if (cluster.spec.tls?.issuerRef === undefined && !this.uncachedWrites.isFresh(certificateId, 'deleted')) {
      const stale = { apiVersion: CERTIFICATE_API_VERSION, kind: 'Certificate', metadata: { name: namesOf(cluster).tls, namespace: cluster.metadata.namespace } };
      // Read first: a steady cluster makes no writes, and most never had a Certificate.
      if ((await this.certificateCrdPresent()) && (await this.deps.writer.exists(stale))) await this.deps.writer.delete(stale);
      // Either way, not asked again for a while: most clusters never had one, and cert-manager may not be installed.
      this.uncachedWrites.record(certificateId, 'deleted');
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
    const now = this.now();
    const pods = this.nodePods(cluster).flatMap((pod) => {
      const standing = podStanding(pod, now);
      return standing === undefined ? [] : [{ pod, standing }];
    });
    return Promise.all(
      pods.map(async ({ pod, standing }) => ({
        name: pod.metadata?.name ?? '',
        load: await this.deps.readLoad(pod),
        cost: pod.metadata?.annotations?.[POD_DELETION_COST],
        ...standing,
      })),
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
