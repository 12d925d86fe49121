import type { V1Container, V1Job, V1Volume } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { hashOf, namesOf, ownedMeta, RESTRICTED_CONTAINER } from './meta.js';
import { NODE_UID, nodeEnv } from './node.js';

/**
 * The schema Job's name: a hash of everything its pod template is made of (the image, the
 * keyspace, the environment and the volumes that carry the secrets, the CA bundles and the
 * Cassandra login), as a Job's pod template cannot change in place. Whatever would change
 * the template names a new Job, which also runs `migrate` again with the new settings
 * before the nodes take them.
 */
export function schemaJobName(cluster: ChatCluster, image: string): string {
  return `${namesOf(cluster).schemaJob}-${hashOf({ image, keyspace: cluster.spec.cassandra.keyspace, ...nodeEnv(cluster) })}`;
}

/** The schema Job: the node image's `migrate` (idempotent), named for what it runs with. */
export function desiredSchemaJob(cluster: ChatCluster, image: string): V1Job {
  const { envFrom, env, volumes, volumeMounts } = nodeEnv(cluster);
  return nodeImageJob(cluster, schemaJobName(cluster, image), { name: 'migrate', image, args: ['migrate'], envFrom, env, volumeMounts }, volumes);
}

/**
 * A Job running the node image once (`migrate`, `reseal`), labelled as the schema Job,
 * whose way to the managed Cassandra it shares; `fsGroup` when a mounted Secret is
 * readable by the group only.
 */
export function nodeImageJob(
  cluster: ChatCluster,
  name: string,
  container: Required<Pick<V1Container, 'name' | 'image' | 'args' | 'envFrom' | 'env' | 'volumeMounts'>>,
  volumes: V1Volume[],
  options: { fsGroup?: boolean } = {},
): V1Job {
  const { volumeMounts, ...rest } = container;
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
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NODE_UID,
            runAsGroup: NODE_UID,
            ...(options.fsGroup === true ? { fsGroup: NODE_UID } : {}),
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [{ ...rest, securityContext: RESTRICTED_CONTAINER, ...(volumeMounts.length === 0 ? {} : { volumeMounts }) }],
          ...(volumes.length === 0 ? {} : { volumes }),
        },
      },
    },
  };
}
