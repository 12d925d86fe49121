import { z } from 'zod';
import { askRedisOnce } from '../../common/redis-once.js';

/**
 * What the Sentinels of a managed Redis said about its primary. `reached: false` when
 * none answered (the operator runs outside the cluster's network, say): then nothing is
 * known, and nothing is claimed.
 */
export type SentinelAnswer = { reached: false } | { reached: true; primaryHost: string | undefined };

/** Asks Sentinels (`host:port`) for the address of `masterName`'s primary; over TLS, checked against `tls.ca`, when given. */
export type PrimaryReader = (sentinels: readonly string[], masterName: string, tls?: { ca: string }) => Promise<SentinelAnswer>;

const ASK_TIMEOUT_MS = 1000;
const MasterAddress = z.union([z.null(), z.tuple([z.string(), z.string()])]);

/** One Sentinel's answer: the primary's host, null when it knows none; undefined when it did not answer. */
async function askOne(address: string, masterName: string, tls: { ca: string } | undefined): Promise<string | null | undefined> {
  const separator = address.lastIndexOf(':');
  try {
    // Over TLS the Sentinels' certificate names each pod (<pod>.<service>.<namespace>.svc), the host dialled.
    const reply = MasterAddress.safeParse(
      await askRedisOnce(
        { host: address.slice(0, separator), port: Number(address.slice(separator + 1)) },
        (client) => client.call('SENTINEL', 'get-master-addr-by-name', masterName),
        { timeoutMs: ASK_TIMEOUT_MS, tls },
      ),
    );
    return reply.success ? (reply.data?.[0] ?? null) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks every Sentinel at once, briefly, and takes the answer most of those that answered
 * give (during a failover they may differ for a moment).
 */
export const askSentinels: PrimaryReader = async (sentinels, masterName, tls) => {
  const answers = (await Promise.all(sentinels.map((address) => askOne(address, masterName, tls)))).filter((answer) => answer !== undefined);
  if (answers.length === 0) return { reached: false };
  return { reached: true, primaryHost: mostCommon(answers) ?? undefined };
};

/** The most frequent value (the first of equals). */
export function mostCommon<T>(values: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: T | undefined;
  for (const [value, count] of counts) if (best === undefined || count > (counts.get(best) ?? 0)) best = value;
  return best;
}

/** The pod a Sentinel's primary host names (`<pod>.<service>.<namespace>.svc`), or the host as it is when it names none of `statefulSet`'s. */
export function primaryPodOf(host: string, statefulSet: string): string {
  const pod = host.split('.')[0] ?? host;
  return new RegExp(`^${statefulSet}-\\d+$`).test(pod) ? pod : host;
}
