/**
 * What the e2e stories do as a user at a terminal would: kubectl and helm against the kind
 * cluster, chat users connecting through the ChatCluster's Service published on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../../../node/auth/tokens.js';
import { run } from '../../../dev/env/process.js';
import type { E2eContext } from '../global-setup.js';
import type { ChatEndpoint, TokenMaker } from '../../support/fault-traffic.js';

export class Kube {
  private readonly scratch = mkdtempSync(join(tmpdir(), 'chatcluster-e2e-'));
  private applied = 0;

  constructor(readonly e2e: E2eContext) {}

  kubectl(...args: string[]): Promise<string> {
    return run(this.e2e.kubectl, ['--kubeconfig', this.e2e.kubeconfig, ...args]);
  }

  helm(...args: string[]): Promise<string> {
    return run(this.e2e.helm, ['--kubeconfig', this.e2e.kubeconfig, ...args]);
  }

  /** `kubectl apply` of a manifest as a user would type it. */
  async apply(manifest: string): Promise<void> {
    const file = join(this.scratch, `manifest-${String((this.applied += 1))}.yaml`);
    writeFileSync(file, manifest);
    await this.kubectl('apply', '-f', file);
  }

  /** `kubectl get … -o jsonpath=…` split into non-empty lines. */
  async lines(...args: string[]): Promise<string[]> {
    return (await this.kubectl(...args)).split('\n').map((line) => line.trim()).filter((line) => line !== '');
  }

  /** Polls `probe` until it returns a value other than undefined; fails with `what` after `timeoutMs`. */
  async until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 1_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: string | undefined;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = error instanceof Error ? error.message : JSON.stringify(error);
      }
      if (Date.now() > deadline) throw new Error(`${what}: not within ${String(timeoutMs)} ms${last === undefined ? '' : ` (last error: ${last})`}`);
      await sleep(everyMs);
    }
  }

  cleanup(): void {
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** A pod as the stories look at it. */
export interface PodView {
  name: string;
  ready: boolean;
  deleting: boolean;
  deletionCost: number | undefined;
  image: string;
}

/** The chat node pods of ChatCluster `name` in `namespace`. */
export async function nodePods(kube: Kube, namespace: string, name: string): Promise<PodView[]> {
  const json = await kube.kubectl('-n', namespace, 'get', 'pods', '-l', `app.kubernetes.io/instance=${name},app.kubernetes.io/component=node`, '-o', 'json');
  interface RawPod {
    metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
    spec: { containers: { image: string }[] };
    status: { conditions?: { type: string; status: string }[] };
  }
  const { items } = JSON.parse(json) as { items: RawPod[] };
  return items.map((pod) => {
    const cost = pod.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
    return {
      name: pod.metadata.name,
      ready: pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true,
      deleting: pod.metadata.deletionTimestamp !== undefined,
      deletionCost: cost === undefined ? undefined : Number(cost),
      image: pod.spec.containers[0]?.image ?? '',
    };
  });
}

/** The ChatCluster's public Service as published on 127.0.0.1 (a NodePort the kind node maps to loopback). */
export function serviceEndpoint(e2e: E2eContext): ChatEndpoint {
  return { id: 'the Service on 127.0.0.1', wsUrl: e2e.nodePortUrl.replace(/^http/, 'ws') };
}

/** Signs users' tokens with the JWT secret the operator generated into the cluster's Secret, as the user's login service would. */
export async function tokenMaker(kube: Kube, namespace: string, secretName: string): Promise<TokenMaker> {
  const encoded = await kube.kubectl('-n', namespace, 'get', 'secret', secretName, '-o', 'jsonpath={.data.secret}');
  const secret = Buffer.from(encoded, 'base64').toString('utf8');
  if (secret === '') throw new Error(`Secret ${secretName} holds no JWT secret`);
  return (user) => mintToken(secret, user, 3600);
}

/** Whole seconds since `started`, for the console.info lines the issue asks for. */
export function secondsSince(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)}s`;
}

/** Min / median / max of a list of milliseconds. */
export function spread(values: readonly number[]): string {
  if (values.length === 0) return 'none';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `min ${String(sorted[0])} ms, median ${String(at(0.5))} ms, max ${String(sorted[sorted.length - 1])} ms (n=${String(sorted.length)})`;
}
