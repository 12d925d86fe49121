import { z } from 'zod';
import type { ChatCluster } from '../../common/chatcluster.js';
import { newestKeyVersion } from '../desired/reseal-job.js';
import { SecretReadings } from './secret-reads.js';

/** How long a version read is taken on trust: a version added to the Secret is resealed to within this time (the operator watches no Secrets). */
const RECHECK_MS = 10 * 60_000;

const KeysSecret = z.object({ data: z.record(z.string(), z.string()).optional() });

/**
 * The newest version in each ChatCluster's at-rest keys Secret (spec.encryption.atRest),
 * read by name now and then. Only the data keys' names are used, never the keys.
 */
export class AtRestKeyVersions {
  private readonly versions: SecretReadings<number>;

  constructor(secrets: { readSecret(namespace: string, name: string): Promise<unknown> }, now: () => number) {
    this.versions = new SecretReadings(secrets, now, (secret) => {
      const parsed = KeysSecret.safeParse(secret);
      return parsed.success ? newestKeyVersion(Object.keys(parsed.data.data ?? {})) : undefined;
    }, RECHECK_MS);
  }

  /** The newest version, undefined without at-rest encryption or while the Secret holds no vN key (or does not exist). */
  newest(cluster: ChatCluster): Promise<number | undefined> {
    const secret = cluster.spec.encryption?.atRest?.keysSecretRef.name;
    return secret === undefined ? Promise.resolve(undefined) : this.versions.of(cluster, secret);
  }
}
