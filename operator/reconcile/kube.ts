import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { CHATCLUSTER_API_VERSION, CHATCLUSTER_KIND } from '../../common/chatcluster.js';
import type { OperatorMetrics } from '../metrics.js';
import { ApiError, rawRequest } from '../runtime/raw-api.js';

export const FIELD_MANAGER = 'chatcluster-operator';

/** The few writes the reconciler makes, each counted, under one field manager. */
export class KubeWriter {
  private readonly objects: KubernetesObjectApi;

  constructor(
    private readonly config: KubeConfig,
    private readonly metrics: OperatorMetrics,
  ) {
    this.objects = config.makeApiClient(KubernetesObjectApi);
  }

  /** Server-side apply: the operator owns exactly the fields it sets, and takes them back (force). Resolves to the object as stored. */
  async apply(object: KubernetesObject): Promise<KubernetesObject> {
    this.metrics.writes.inc({ verb: 'apply', kind: object.kind ?? '' });
    return this.objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /** Creates an object unless it exists; true when this call created it. */
  async createIfMissing(object: KubernetesObject): Promise<boolean> {
    try {
      this.metrics.writes.inc({ verb: 'create', kind: object.kind ?? '' });
      await this.objects.create(object, undefined, undefined, FIELD_MANAGER);
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 409) return false;
      throw error;
    }
  }

  async delete(object: KubernetesObject): Promise<void> {
    this.metrics.writes.inc({ verb: 'delete', kind: object.kind ?? '' });
    try {
      await this.objects.delete(object, undefined, undefined, undefined, undefined, 'Background');
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  /** Writes a ChatCluster's status through its status subresource (a merge patch of `status` only). */
  async patchStatus(namespace: string, name: string, status: unknown): Promise<void> {
    this.metrics.writes.inc({ verb: 'patch-status', kind: 'ChatCluster' });
    await rawRequest(this.config, 'PATCH', `/apis/chatcluster.dev/v1alpha1/namespaces/${namespace}/chatclusters/${name}/status`, { status }, { contentType: 'application/merge-patch+json' });
  }

  /** Sets annotations on a pod (a merge patch of its metadata only), e.g. its pod-deletion-cost. */
  async annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
    this.metrics.writes.inc({ verb: 'patch', kind: 'Pod' });
    await rawRequest(this.config, 'PATCH', `/api/v1/namespaces/${namespace}/pods/${name}`, { metadata: { annotations } }, { contentType: 'application/merge-patch+json' });
  }

  /** Records a Kubernetes Event on the ChatCluster (best effort: an event never fails a reconcile). */
  /** An Event about a ChatCluster (`involved`: its metadata, or anything naming it). */
  async event(involved: { namespace: string; name: string; uid: string }, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    this.metrics.writes.inc({ verb: 'create', kind: 'Event' });
    await rawRequest(this.config, 'POST', `/api/v1/namespaces/${involved.namespace}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${involved.name}.`, namespace: involved.namespace },
      involvedObject: { apiVersion: CHATCLUSTER_API_VERSION, kind: CHATCLUSTER_KIND, name: involved.name, namespace: involved.namespace, uid: involved.uid },
      reason,
      message,
      type,
      source: { component: FIELD_MANAGER },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    }).catch(() => undefined);
  }

  /** One Secret by name, undefined when there is none (the self-signed CA and certificate: the operator lists no Secrets). */
  async readSecret(namespace: string, name: string): Promise<unknown> {
    try {
      return await rawRequest<unknown>(this.config, 'GET', `/api/v1/namespaces/${namespace}/secrets/${name}`);
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Whether an object exists (a read, so that a delete is only sent for something there to delete). */
  async exists(object: KubernetesObject): Promise<boolean> {
    try {
      await this.objects.read({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata?.name ?? '', namespace: object.metadata?.namespace ?? '' } });
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
  }

  /** Whether a CRD is installed (e.g. the Prometheus Operator's ServiceMonitor). */
  async crdExists(name: string): Promise<boolean> {
    try {
      await rawRequest(this.config, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404 || statusCodeOf(error) === 403) return false;
      throw error;
    }
  }
}

export function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof ApiError) return error.statusCode;
  const candidate = error as { code?: unknown; statusCode?: unknown } | null;
  if (typeof candidate?.code === 'number') return candidate.code;
  if (typeof candidate?.statusCode === 'number') return candidate.statusCode;
  return undefined;
}

/**
 * A failure as the Degraded condition and the Event tell it: the HTTP status and the API
 * server's own message, nothing that differs between two tries of the same failure
 * (client-node's message holds the response headers, audit id included), so a lasting
 * failure does not rewrite the status on every retry.
 */
export function describeFailure(error: unknown): string {
  const status = statusCodeOf(error);
  const body = (error as { body?: unknown } | null)?.body;
  if (status !== undefined && typeof body === 'string') {
    try {
      const message = (JSON.parse(body) as { message?: unknown }).message;
      if (typeof message === 'string') return `HTTP ${status}: ${message}`;
    } catch {
      // not a Status object: fall through
    }
  }
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
}
