import { z } from 'zod';
import type { ChatCluster } from '../../common/chatcluster.js';
import { newestKeyVersion } from '../desired/reseal-job.js';

/** How long a version read is taken on trust: a version added to the Secret is resealed to within this time (the operator watches no Secrets). */
const RECHECK_MS = 10 * 60_000;

const KeysSecret = z.object({ data: z.record(z.string(), z.string()).optional() });

/**
 * The newest version in each ChatCluster's at-rest keys Secret (spec.encryption.atRest),
 * read by name now and then. Only the data keys' names are used, never the keys.
 */
export class AtRestKeyVersions {
  private readonly read = new Map<string, { secret: string; version: number | undefined; until: number }>();

  constructor(
    private readonly secrets: { readSecret(namespace: string, name: string): Promise<unknown> },
    private readonly now: () => number,
  ) {}

  /** The newest version, undefined without at-rest encryption or while the Secret holds no vN key (or does not exist). */
  async newest(cluster: ChatCluster): Promise<number | undefined> {
    const secret = cluster.spec.encryption?.atRest?.keysSecretRef.name;
    if (secret === undefined) return undefined;
    const now = this.now();
    const known = this.read.get(cluster.metadata.uid);
    if (known !== undefined && known.secret === secret && now < known.until) return known.version;
    const parsed = KeysSecret.safeParse(await this.secrets.readSecret(cluster.metadata.namespace, secret));
    const version = parsed.success ? newestKeyVersion(Object.keys(parsed.data.data ?? {})) : undefined;
    this.read.set(cluster.metadata.uid, { secret, version, until: now + RECHECK_MS });
    return version;
  }
}
