import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { namesOf } from './meta.js';

/** Where a managed Cassandra pod reads the ChatCluster's certificate (<name>-tls), and where it keeps the keystore made of it. */
export const CASSANDRA_TLS_DIR = '/etc/cassandra/tls';
export const CASSANDRA_KEYSTORE_DIR = '/etc/cassandra/keystore';
/** The official image's configuration file, which its entrypoint then edits further (seeds, names). */
const CASSANDRA_YAML = '/etc/cassandra/cassandra.yaml';
const PEM_FACTORY = 'org.apache.cassandra.security.PEMBasedSslContextFactory';

/** Whether the managed Cassandra speaks TLS: whenever the ChatCluster has spec.tls, as the managed Redis (see managedRedisTls). */
export function managedCassandraTls(cluster: ChatCluster): boolean {
  return cluster.spec.tls !== undefined;
}

/**
 * cassandra.yaml's encryption blocks: clients (the chat nodes) must use TLS, and the
 * peers speak TLS to each other, each presenting the certificate (require_client_auth).
 * Cassandra 5.0 reads PEM directly (PEMBasedSslContextFactory); its keystore is one PEM
 * file with the key and the certificate, which it re-reads when the file changes.
 */
export function cassandraEncryptionYaml(): string {
  const material = [
    '  ssl_context_factory:',
    `    class_name: ${PEM_FACTORY}`,
    `  keystore: ${CASSANDRA_KEYSTORE_DIR}/keystore.pem`,
    `  truststore: ${CASSANDRA_TLS_DIR}/ca.crt`,
  ];
  return [
    'client_encryption_options:',
    '  enabled: true',
    // Plaintext clients are refused on the native port.
    '  optional: false',
    ...material,
    '  require_client_auth: false',
    'server_encryption_options:',
    '  internode_encryption: all',
    '  optional: false',
    ...material,
    '  require_client_auth: true',
    '',
  ].join('\n');
}

/**
 * What the Cassandra container does for TLS before it starts the server (cassandra-start.ts
 * runs it): make the keystore (key and certificate in one PEM file, rewritten by a loop
 * beside the server when the kubelet swaps in a renewed certificate), and replace the
 * image's encryption blocks of cassandra.yaml with ours.
 */
export function cassandraTlsSetupScript(): string {
  return `set -eu
write_keystore() {
  cat ${CASSANDRA_TLS_DIR}/tls.key ${CASSANDRA_TLS_DIR}/tls.crt > ${CASSANDRA_KEYSTORE_DIR}/keystore.pem.new
  mv ${CASSANDRA_KEYSTORE_DIR}/keystore.pem.new ${CASSANDRA_KEYSTORE_DIR}/keystore.pem
}
write_keystore
(
  seen="$(cksum < ${CASSANDRA_TLS_DIR}/tls.crt)"
  while sleep 60; do
    now="$(cksum < ${CASSANDRA_TLS_DIR}/tls.crt)" || continue
    if [ "$now" != "$seen" ] && write_keystore; then seen="$now"; fi
  done
) &
# Drop the image's top-level encryption blocks (up to the next top-level key), then add ours.
awk '/^(client|server)_encryption_options:/ { skip = 1; next } skip && /^[^ #]/ { skip = 0 } !skip' ${CASSANDRA_YAML} > ${CASSANDRA_KEYSTORE_DIR}/cassandra.yaml
cat >> ${CASSANDRA_KEYSTORE_DIR}/cassandra.yaml <<'EOF'
${cassandraEncryptionYaml()}EOF
cat ${CASSANDRA_KEYSTORE_DIR}/cassandra.yaml > ${CASSANDRA_YAML}`;
}

/** The certificate Secret (read by the pod's fsGroup) and the in-memory folder of the keystore, with their mounts. */
export function cassandraTlsVolumes(cluster: ChatCluster): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  return {
    volumes: [
      { name: 'tls', secret: { secretName: namesOf(cluster).tls, defaultMode: 0o440 } },
      // The key, in memory only: never on the data volume.
      { name: 'keystore', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    ],
    mounts: [
      { name: 'tls', mountPath: CASSANDRA_TLS_DIR, readOnly: true },
      { name: 'keystore', mountPath: CASSANDRA_KEYSTORE_DIR },
    ],
  };
}
