import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { expect, vi } from 'vitest';
import {
  CHATCLUSTER_API_VERSION,
  CHATCLUSTER_GROUP,
  CHATCLUSTER_KIND,
  CHATCLUSTER_PLURAL,
  CHATCLUSTER_VERSION,
  parseChatClusterSpec,
  type ChatClusterStatus,
} from '../../common/chatcluster.js';

const CRD_FILE = fileURLToPath(new URL('../../crds/chatcluster.yaml', import.meta.url));
const CRD_NAME = `${CHATCLUSTER_PLURAL}.${CHATCLUSTER_GROUP}`;
/** The tests' field manager for the CRD, shared with test/operator/crd.test.ts (applying it again is a no-op). */
const CRD_FIELD_MANAGER = 'chatcluster-tests';
const RESOURCE = { group: CHATCLUSTER_GROUP, version: CHATCLUSTER_VERSION, plural: CHATCLUSTER_PLURAL };
const run = promisify(execFile);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A ChatCluster as the API server returns it. */
export interface StoredChatCluster {
  metadata: { name: string; namespace: string; uid: string; generation: number; resourceVersion: string };
  spec: Record<string, unknown>;
  status?: ChatClusterStatus;
}

/** The kinds a ChatCluster owns, as (apiVersion, kind). */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
] as const;
export type OwnedKind = (typeof OWNED_KINDS)[number]['kind'];

/** External Redis and Cassandra: no StatefulSets, no volumes, Ready as soon as the nodes are. */
export const EXTERNAL_DEPENDENCIES = {
  redis: { external: { url: 'redis://redis.example:6379' } },
  cassandra: { external: { contactPoints: ['cassandra-a.example:9042', 'cassandra-b.example'], datacenter: 'dc1' } },
};

/**
 * Applies the CRD as a user would (kubectl, server-side, idempotent) and waits until the
 * API server serves it with this checkout's schema (a dry-run create comes back defaulted).
 */
export async function installChatClusterCrd(admin: KubeConfig, processEnv: NodeJS.ProcessEnv, namespace: string): Promise<void> {
  await run('kubectl', ['apply', '--server-side', '--force-conflicts', `--field-manager=${CRD_FIELD_MANAGER}`, '--filename', CRD_FILE], { env: processEnv });
  const extensions = admin.makeApiClient(ApiextensionsV1Api);
  await vi.waitFor(async () => {
    const installed = await extensions.readCustomResourceDefinition({ name: CRD_NAME });
    expect(installed.status?.conditions?.find((condition) => condition.type === 'Established')?.status).toBe('True');
  }, { timeout: 30_000, interval: 200 });
  const customObjects = admin.makeApiClient(CustomObjectsApi);
  await vi.waitFor(async () => {
    const created = (await customObjects.createNamespacedCustomObject({
      ...RESOURCE,
      namespace,
      dryRun: 'All',
      body: { apiVersion: CHATCLUSTER_API_VERSION, kind: CHATCLUSTER_KIND, metadata: { name: 'schema-probe' }, spec: {} },
    })) as StoredChatCluster;
    expect(created.spec).toEqual(parseChatClusterSpec({}));
  }, { timeout: 30_000, interval: 250 });
}

/** ChatClusters of one namespace, and what they own, through the admin's eyes. */
export class ChatClusters {
  private readonly customObjects: CustomObjectsApi;
  private readonly objects: KubernetesObjectApi;

  constructor(
    admin: KubeConfig,
    readonly namespace: string,
  ) {
    this.customObjects = admin.makeApiClient(CustomObjectsApi);
    this.objects = admin.makeApiClient(KubernetesObjectApi);
  }

  create(name: string, spec: unknown): Promise<StoredChatCluster> {
    return this.customObjects.createNamespacedCustomObject({
      ...RESOURCE,
      namespace: this.namespace,
      body: { apiVersion: CHATCLUSTER_API_VERSION, kind: CHATCLUSTER_KIND, metadata: { name }, spec },
    }) as Promise<StoredChatCluster>;
  }

  /** A JSON merge patch of the whole resource (`null` removes a field). */
  patch(name: string, body: object): Promise<StoredChatCluster> {
    return this.customObjects.patchNamespacedCustomObject({ ...RESOURCE, namespace: this.namespace, name, body }, mergePatch) as Promise<StoredChatCluster>;
  }

  read(name: string): Promise<StoredChatCluster> {
    return this.customObjects.getNamespacedCustomObject({ ...RESOURCE, namespace: this.namespace, name }) as Promise<StoredChatCluster>;
  }

  async list(): Promise<StoredChatCluster[]> {
    const list = (await this.customObjects.listNamespacedCustomObject({ ...RESOURCE, namespace: this.namespace })) as { items: StoredChatCluster[] };
    return list.items;
  }

  async delete(name: string): Promise<void> {
    await this.customObjects.deleteNamespacedCustomObject({ ...RESOURCE, namespace: this.namespace, name });
  }

  /** Objects of `kind` in the namespace matching a label selector. */
  async listKind<T extends KubernetesObject = KubernetesObject>(apiVersion: string, kind: string, labelSelector: string): Promise<T[]> {
    const list = await this.objects.list<T>(apiVersion, kind, this.namespace, undefined, undefined, undefined, undefined, labelSelector);
    return list.items;
  }

  /** Everything of the owned kinds labelled as `instance`'s (or as any ChatCluster's when undefined), by kind. */
  async owned(instance?: string): Promise<Record<OwnedKind, KubernetesObject[]>> {
    const selector = ['app.kubernetes.io/managed-by=chatcluster-operator', ...(instance === undefined ? [] : [`app.kubernetes.io/instance=${instance}`])].join(',');
    const lists = await Promise.all(OWNED_KINDS.map(({ apiVersion, kind }) => this.listKind(apiVersion, kind, selector)));
    return Object.fromEntries(OWNED_KINDS.map(({ kind }, index) => [kind, lists[index] ?? []])) as Record<OwnedKind, KubernetesObject[]>;
  }

  /** Waits until the ChatCluster reports phase Ready for its current generation; returns it. */
  async waitForReady(name: string, timeoutMs = 60_000): Promise<StoredChatCluster> {
    return vi.waitFor(async () => {
      const cluster = await this.read(name);
      expect(cluster.status?.observedGeneration, `${name}: observedGeneration`).toBe(cluster.metadata.generation);
      expect(cluster.status?.phase, `${name}: phase (${JSON.stringify(cluster.status?.conditions?.find((c) => c.type === 'Ready')?.message)})`).toBe('Ready');
      return cluster;
    }, { timeout: timeoutMs, interval: 250 });
  }
}

/** `Kind/name` of each object, sorted: a readable inventory for assertions. */
export function inventory(objects: Record<string, KubernetesObject[]>): string[] {
  return Object.entries(objects)
    .flatMap(([kind, list]) => list.map((object) => `${kind}/${object.metadata?.name ?? ''}`))
    .sort();
}
