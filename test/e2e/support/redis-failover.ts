/**
 * The managed Sentinel Redis as the e2e stories watch it: which pod the operator reports
 * as primary, which host the Sentinels name (asked from inside a Redis pod, as nothing
 * outside the cluster reaches them), and how the chat traffic fared across a failover.
 */
import type { ChatUser, Traffic } from '../../support/fault-traffic.js';
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

/** How the acked messages sent from `from` on reached their recipients live. */
export interface LiveDelivery {
  /** Acked messages sent from `from` on, and recipients that should see each. */
  acked: number;
  /** Ms after `from` when live delivery resumed for good: every message sent later arrived live. */
  resumedAfterMs: number;
  /** The longest time from a send to its live arrival. */
  slowestMs: number;
}

/** Live delivery of the acked messages sent after `from`, among `users`. */
export function liveDeliverySince(traffic: Traffic, users: readonly ChatUser[], from: number): LiveDelivery {
  const byName = new Map(users.map((user) => [user.name, user]));
  const sends = traffic.acked().filter((send) => send.startedAt >= from);
  let resumedAt = from;
  let slowestMs = 0;
  for (const send of sends) {
    for (const name of traffic.recipientsOf(send)) {
      const arrived = byName.get(name)?.live.get(send.ack.id);
      if (arrived === undefined) resumedAt = Math.max(resumedAt, send.startedAt);
      else slowestMs = Math.max(slowestMs, arrived - send.startedAt);
    }
  }
  return { acked: sends.length, resumedAfterMs: resumedAt - from, slowestMs };
}
