import { KubernetesObjectApi, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface InformerOptions {
  apiVersion: string;
  kind: string;
  /** Lower-case plural, for the watch path. */
  plural: string;
  /** Watch one namespace, or all when unset. */
  namespace?: string;
  labelSelector?: string;
  /** Told of every change to the cache (after the first list: of each object found). */
  onChange: (type: WatchEventType, object: KubernetesObject) => void;
  log: Logger;
}

/** The API path of a resource collection: `/api/v1/pods`, `/apis/apps/v1/namespaces/x/deployments`. */
export function collectionPath(apiVersion: string, plural: string, namespace?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace === undefined ? `${base}/${plural}` : `${base}/namespaces/${namespace}/${plural}`;
}

/** The cache key of an object: `namespace/name`, the work queue's key too. */
export function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/**
 * A cache of one kind kept current by list + watch, in the manner of client-go's
 * reflector: it watches from the list's resourceVersion with bookmarks (so a quiet watch
 * still advances it), lists again when the server answers 410 Gone (the version is too old),
 * and re-watches with back-off after any other failure.
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private request: { abort(): void } | undefined;
  private stopped = false;
  private failures = 0;
  private firstSync: Promise<void>;
  private markSynced: () => void = () => undefined;

  constructor(
    private readonly config: KubeConfig,
    private readonly options: InformerOptions,
  ) {
    this.firstSync = new Promise((resolve) => {
      this.markSynced = resolve;
    });
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    void this.run();
    await this.firstSync;
  }

  stop(): void {
    this.stopped = true;
    this.request?.abort();
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '') await this.relist();
        await this.watchOnce();
        this.failures = 0;
      } catch (error) {
        if (this.isStopped()) return;
        if (isGone(error)) {
          this.options.log.info({ kind: this.options.kind }, 'watch expired (410 Gone); listing again');
          this.resourceVersion = '';
          continue;
        }
        const askedToWait = retryAfterMs(error);
        if (askedToWait !== undefined) {
          // 429 with Retry-After is the server's flow control, not a fault: for instance a
          // CRD's storage re-initialises for a second after the operator upgrades it.
          const delay = Math.max(askedToWait, 500);
          this.options.log.info({ kind: this.options.kind, retryInMs: delay, reason: messageOf(error) }, 'server asked to retry later (429)');
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        this.failures += 1;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
        this.options.log.warn({ err: error, kind: this.options.kind, retryInMs: delay }, 'watch failed');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Read through a method: `stop()` flips the flag while `run` awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async relist(): Promise<void> {
    const api = this.config.makeApiClient(KubernetesObjectApi);
    const list = await api.list(this.options.apiVersion, this.options.kind, this.options.namespace, undefined, undefined, undefined, undefined, this.options.labelSelector);
    const seen = new Set<string>();
    for (const item of list.items) {
      // Items of a list carry no apiVersion/kind; the informer knows them.
      const object = { ...item, apiVersion: this.options.apiVersion, kind: this.options.kind } as T;
      const key = keyOf(object);
      seen.add(key);
      const previous = this.cache.get(key);
      this.cache.set(key, object);
      if (previous?.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        this.options.onChange(previous === undefined ? 'ADDED' : 'MODIFIED', object);
      }
    }
    for (const [key, object] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.options.onChange('DELETED', object);
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.markSynced();
  }

  /** One watch connection, until the server closes it (normal every few minutes) or it fails. */
  private watchOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const watch = new Watch(this.config);
      const query: Record<string, string | boolean> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
      if (this.options.labelSelector !== undefined) query.labelSelector = this.options.labelSelector;
      let gone = false;
      watch
        .watch(
          collectionPath(this.options.apiVersion, this.options.plural, this.options.namespace),
          query,
          (type: string, object: T & { code?: number }) => {
            if (type === 'ERROR') {
              if (object.code === 410) gone = true;
              return;
            }
            if (object.metadata?.resourceVersion !== undefined) this.resourceVersion = object.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            const key = keyOf(object);
            if (type === 'DELETED') this.cache.delete(key);
            else this.cache.set(key, object);
            this.options.onChange(type as WatchEventType, object);
          },
          (error: unknown) => {
            this.request = undefined;
            if (gone) reject(Object.assign(new Error('410 Gone'), { statusCode: 410 }));
            else if (error !== null && error !== undefined && !this.stopped) reject(error instanceof Error ? error : new Error('watch failed', { cause: error }));
            else resolve();
          },
        )
        .then(
          (request: { abort(): void }) => {
            this.request = request;
          },
          reject,
        );
    });
  }
}

interface StatusLike {
  statusCode?: number;
  code?: number;
  body?: unknown;
}

/** The wait a 429 answer asks for (its Status's retryAfterSeconds, else 1 s), or undefined for any other error. */
export function retryAfterMs(error: unknown): number | undefined {
  const candidate = error as StatusLike | null;
  if (candidate?.code !== 429 && candidate?.statusCode !== 429) return undefined;
  const status = parseStatus(candidate.body);
  return (status?.details?.retryAfterSeconds ?? 1) * 1_000;
}

function messageOf(error: unknown): string | undefined {
  return parseStatus((error as StatusLike | null)?.body)?.message;
}

interface Status {
  message?: string;
  details?: { retryAfterSeconds?: number };
}

function parseStatus(body: unknown): Status | undefined {
  if (typeof body === 'object' && body !== null) return body;
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as Status;
  } catch {
    return undefined;
  }
}

function isGone(error: unknown): boolean {
  const candidate = error as { statusCode?: number; code?: number } | null;
  return candidate?.statusCode === 410 || candidate?.code === 410;
}
