import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { namesOf } from './meta.js';

/** Where a managed Redis pod reads the ChatCluster's certificate (<name>-tls: tls.crt, tls.key, ca.crt). */
export const REDIS_TLS_DIR = '/etc/redis/tls';

/** How the managed Redis speaks TLS: the files, and the flags every redis-cli of its scripts and probes needs. */
export interface RedisTls {
  dir: string;
  /** `--tls --cacert …`: redis-cli checks the chain (not the host name: it dials 127.0.0.1 or a peer's name). */
  cliFlags: string;
}

/**
 * TLS for the managed Redis and Sentinel whenever the ChatCluster has spec.tls, with
 * <name>-tls, which covers their names whatever the source (see operatorSignsCertificate);
 * without spec.tls the managed Redis is plaintext.
 */
export function managedRedisTls(cluster: ChatCluster): RedisTls | undefined {
  if (cluster.spec.tls === undefined) return undefined;
  return { dir: REDIS_TLS_DIR, cliFlags: `--tls --cacert ${REDIS_TLS_DIR}/ca.crt` };
}

/** redis.conf (and sentinel.conf) lines: TLS on the usual port, plaintext refused (port 0), TLS to peers too. */
export function redisTlsConfigLines(tls: RedisTls, port: number): string[] {
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${tls.dir}/tls.crt`,
    `tls-key-file ${tls.dir}/tls.key`,
    `tls-ca-cert-file ${tls.dir}/ca.crt`,
    // Clients are not asked for certificates: the NetworkPolicy says who may connect.
    'tls-auth-clients no',
    // Replicas to their primary, and Sentinels to the servers, over TLS as well.
    'tls-replication yes',
  ];
}

/** The certificate Secret as a volume of a Redis pod (its group, the pod's fsGroup, reads the key), and its mount. */
export function redisTlsVolume(cluster: ChatCluster): { volume: V1Volume; mount: V1VolumeMount } {
  return {
    volume: { name: 'tls', secret: { secretName: namesOf(cluster).tls, defaultMode: 0o440 } },
    mount: { name: 'tls', mountPath: REDIS_TLS_DIR, readOnly: true },
  };
}

/**
 * A loop, started before redis-server replaces the shell, that makes the server load a
 * renewed certificate: CONFIG SET of the TLS files reloads them (Redis 7), so a renewal
 * restarts nothing. The kubelet swaps the mounted files within a minute or two.
 */
export function redisCertificateReloadLoop(tls: RedisTls, port: number): string {
  return `(
  seen="$(cksum < ${tls.dir}/tls.crt)"
  while sleep 60; do
    now="$(cksum < ${tls.dir}/tls.crt)" || continue
    if [ "$now" != "$seen" ] && redis-cli ${tls.cliFlags} -p ${port} CONFIG SET tls-cert-file ${tls.dir}/tls.crt tls-key-file ${tls.dir}/tls.key tls-ca-cert-file ${tls.dir}/ca.crt >/dev/null; then
      seen="$now"
    fi
  done
) &
`;
}

/**
 * Sentinel cannot reload its TLS files (CONFIG SET is not a Sentinel command), so its
 * liveness also fails once the certificate differs from the one it started with, and the
 * kubelet restarts that container alone (its state is in sentinel.conf on the data volume).
 */
export function sentinelCertificateRecord(tls: RedisTls, dataDir: string): { atStart: string; liveness: string } {
  const record = `${dataDir}/sentinel-certificate.cksum`;
  return {
    atStart: `cksum < ${tls.dir}/tls.crt > ${record}\n`,
    liveness: `[ "$(cksum < ${tls.dir}/tls.crt)" = "$(cat ${record})" ]`,
  };
}
