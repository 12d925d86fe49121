/**
 * The managed Sentinel Redis as the e2e stories watch it: which pod the operator reports
 * as primary, which host the Sentinels name (asked from inside a Redis pod, as nothing
 * outside the cluster reaches them), and how the chat traffic fared across a failover.
 */
import type { Kube } from './kube.js';

/** The pod the ChatCluster's status names as its Redis primary, once it names one. */
export function reportedPrimary(kube: Kube, namespace: string, cluster: string, timeoutMs = 120_000): Promise<string> {
  return kube.until(`status.redis.primary of ${cluster}`, timeoutMs, async () => {
    const primary = (await kube.kubectl('-n', namespace, 'get', 'chatcluster', cluster, '-o', 'jsonpath={.status.redis.primary}')).trim();
    return primary === '' ? undefined : primary;
  });
}

/** The pod the Sentinels name as primary, asked through `askPod`'s Sentinel container; undefined when it does not answer. */
export async function sentinelPrimary(kube: Kube, namespace: string, askPod: string): Promise<string | undefined> {
  const reply = await kube
    .kubectl('-n', namespace, 'exec', askPod, '-c', 'sentinel', '--', 'redis-cli', '-p', '26379', '--raw', 'SENTINEL', 'get-master-addr-by-name', 'chat')
    .catch(() => '');
  const host = reply.split('\n')[0]?.trim() ?? '';
  return host === '' ? undefined : (host.split('.')[0] ?? host);
}

/** Waits until the Sentinels (asked through `askPod`) name a primary other than `old`; returns it and the time it was first seen. */
export async function awaitNewPrimary(kube: Kube, namespace: string, askPod: string, old: string, timeoutMs = 60_000): Promise<{ primary: string; seenAt: number }> {
  return kube.until(
    `the Sentinels name a primary other than ${old}`,
    timeoutMs,
    async () => {
      const primary = await sentinelPrimary(kube, namespace, askPod);
      return primary !== undefined && primary !== old ? { primary, seenAt: Date.now() } : undefined;
    },
    200,
  );
}
