import type { V1Job } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { atRestKeyMounts, combineMounts } from './encryption.js';
import { nodeEnv } from './node.js';
import { nodeImageJob } from './schema-job.js';

/** The newest key version among a keys Secret's data keys (v1, v2, …), undefined when it has none. */
export function newestKeyVersion(keys: readonly string[]): number | undefined {
  const versions = keys.flatMap((key) => {
    const match = /^v([1-9]\d*)$/.exec(key);
    return match === null ? [] : [Number(match[1])];
  });
  return versions.length === 0 ? undefined : Math.max(...versions);
}

/** The reseal Job's name for a key version: one Job per version, so adding a version runs it again. */
export function resealJobName(cluster: ChatCluster, version: number): string {
  return `${cluster.metadata.name}-reseal-v${version}`;
}

/**
 * The reseal Job: the node image's `reseal` re-encrypts every stored message text that is
 * not under the newest key (plaintext ones included), so the older versions can then be
 * removed from the Secret. Idempotent; made once per newest version and never changed (a
 * Job's pod cannot change), so a new image does not run it again. Labelled like the schema
 * Job, whose way to the managed Cassandra it shares.
 */
export function desiredResealJob(cluster: ChatCluster, image: string, version: number): V1Job | undefined {
  const keys = atRestKeyMounts(cluster);
  if (keys.env.length === 0) return undefined;
  const shared = nodeEnv(cluster);
  const { env, volumes, volumeMounts } = combineMounts(shared, keys);
  // fsGroup: the keys are readable by the group only.
  return nodeImageJob(cluster, resealJobName(cluster, version), { name: 'reseal', image, args: ['reseal'], envFrom: shared.envFrom, env, volumeMounts }, volumes, { fsGroup: true });
}

/** What a finished reseal Job means for the user, as an Event; undefined while it runs. */
export function resealOutcome(job: V1Job, version: number): { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined {
  const name = job.metadata?.name ?? '';
  if ((job.status?.succeeded ?? 0) > 0) {
    return {
      type: 'Normal',
      reason: 'Resealed',
      message: `reseal Job ${name} succeeded: every stored message text is sealed with key v${version}; versions below v${version} may now be removed from the keys Secret`,
    };
  }
  const failed = job.status?.conditions?.find((condition) => condition.type === 'Failed' && condition.status === 'True');
  if (failed === undefined) return undefined;
  return {
    type: 'Warning',
    reason: 'ResealFailed',
    message: `reseal Job ${name} failed (${failed.message ?? failed.reason ?? 'no reason given'}): keep every key version; delete the Job to run it again`,
  };
}
