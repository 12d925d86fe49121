import type { KubernetesObject } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { certificateDnsNames } from './encryption.js';
import { labelsOf, namesOf, ownedMeta } from './meta.js';

/** cert-manager's Certificate: its API version and its CRD's name (whose presence says cert-manager is installed). */
export const CERTIFICATE_API_VERSION = 'cert-manager.io/v1';
export const CERTIFICATE_CRD = 'certificates.cert-manager.io';

/** The spec of a cert-manager Certificate, as far as the operator writes it. */
export interface CertificateSpec {
  secretName: string;
  dnsNames: string[];
  issuerRef: { name: string; kind: string; group?: string };
  privateKey: { algorithm: 'ECDSA'; size: 256; rotationPolicy: 'Always' };
  usages: string[];
  secretTemplate: { labels: Record<string, string> };
}

/**
 * `spec.tls.issuerRef`: a cert-manager Certificate that writes <name>-tls (tls.crt, tls.key,
 * and ca.crt where the issuer knows it) for the same names as the self-signed one; cert-manager
 * renews it and the nodes re-read the files. Undefined for any other TLS source.
 */
export function desiredCertificate(cluster: ChatCluster): (KubernetesObject & { spec: CertificateSpec }) | undefined {
  const issuerRef = cluster.spec.tls?.issuerRef;
  if (issuerRef === undefined) return undefined;
  const names = namesOf(cluster);
  return {
    apiVersion: CERTIFICATE_API_VERSION,
    kind: 'Certificate',
    metadata: ownedMeta(cluster, names.tls, 'node'),
    spec: {
      secretName: names.tls,
      dnsNames: certificateDnsNames(cluster),
      issuerRef: { name: issuerRef.name, kind: issuerRef.kind, ...(issuerRef.group === undefined ? {} : { group: issuerRef.group }) },
      // A new key with every renewal; ECDSA P-256 as the self-signed certificates.
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      // Both ends: Cassandra's peers and Redis replicas present it to each other.
      usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'],
      // The Secret cert-manager writes is labelled as the ChatCluster's (cert-manager owns it, not the ChatCluster).
      secretTemplate: { labels: labelsOf(cluster, 'node') },
    },
  };
}
