import type { V1Job } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { hashOf, namesOf, ownedMeta, RESTRICTED_CONTAINER } from './meta.js';
import { NODE_UID, nodeEnv } from './node.js';

/** The schema Job's name for an image: a new image (or keyspace) is a new Job. */
export function schemaJobName(cluster: ChatCluster, image: string): string {
  return `${namesOf(cluster).schemaJob}-${hashOf({ image, keyspace: cluster.spec.cassandra.keyspace })}`;
}

/**
 * The schema Job: the node image's `migrate` (idempotent). Its name carries a hash of the
 * image and keyspace, so a new image or keyspace runs it again before nodes roll.
 */
export function desiredSchemaJob(cluster: ChatCluster, image: string): V1Job {
  const { envFrom, env } = nodeEnv(cluster);
  const name = schemaJobName(cluster, image);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: ownedMeta(cluster, name, 'schema'),
    spec: {
      backoffLimit: 10,
      template: {
        metadata: { labels: ownedMeta(cluster, name, 'schema').labels },
        spec: {
          restartPolicy: 'OnFailure',
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'migrate',
              image,
              args: ['migrate'],
              envFrom,
              env,
              securityContext: RESTRICTED_CONTAINER,
            },
          ],
        },
      },
    },
  };
}
