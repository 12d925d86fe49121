/**
 * The encryption fields of a ChatCluster's spec (CRD.md: spec.tls, spec.encryption.atRest,
 * redis.external.caSecretRef, cassandra.external.tls), as the operator reads them.
 *
 * They belong in common/chatcluster.ts beside the rest of the spec; until they move there
 * (the parser in common drops fields it does not know), the operator reads them from the
 * stored object itself, with the same rules as the CRD (crds/chatcluster.yaml), and adds
 * them to the parsed spec. Once common carries them, withEncryptionFields is the identity.
 */
import { z } from 'zod';
import type { ChatCluster, ChatClusterSpec } from '../../common/chatcluster.js';

const SecretKeyRef = z.object({ name: z.string().min(1), key: z.string().min(1) });

/** The issuer kinds of cert-manager an issuerRef may name. */
export const ISSUER_KINDS = ['Issuer', 'ClusterIssuer'] as const;

/** Where the nodes' public certificate comes from: exactly one of the three. */
export const TlsSpec = z
  .object({
    secretName: z.string().min(1).max(253).optional(),
    issuerRef: z.object({ name: z.string().min(1), kind: z.enum(ISSUER_KINDS), group: z.string().min(1).optional() }).optional(),
    selfSigned: z.boolean().optional(),
  })
  .refine((tls) => [tls.secretName, tls.issuerRef, tls.selfSigned].filter((source) => source !== undefined).length === 1, {
    message: 'tls needs exactly one of tls.secretName, tls.issuerRef or tls.selfSigned',
  })
  .refine((tls) => tls.selfSigned !== false, { message: 'tls.selfSigned can only be true; to serve without TLS, remove tls', path: ['selfSigned'] });
export type TlsSpec = z.infer<typeof TlsSpec>;

export const EncryptionSpec = z.object({
  atRest: z.object({ keysSecretRef: z.object({ name: z.string().min(1) }) }).optional(),
});
export type EncryptionSpec = z.infer<typeof EncryptionSpec>;

export const CassandraTlsSpec = z
  .object({ enabled: z.boolean().default(true), caSecretRef: SecretKeyRef.optional() })
  .refine((tls) => tls.enabled || tls.caSecretRef === undefined, {
    message: 'cassandra.external.tls.caSecretRef needs cassandra.external.tls.enabled true',
    path: ['caSecretRef'],
  });
export type CassandraTlsSpec = z.infer<typeof CassandraTlsSpec>;

/** Only the new fields, at their places in the spec; everything else is common's to read. */
const EncryptionFields = z.object({
  tls: TlsSpec.optional(),
  encryption: EncryptionSpec.optional(),
  redis: z.object({ external: z.object({ caSecretRef: SecretKeyRef.optional() }).optional() }).optional(),
  cassandra: z.object({ external: z.object({ tls: CassandraTlsSpec.optional() }).optional() }).optional(),
});

type ExternalRedis = NonNullable<ChatClusterSpec['redis']['external']>;
type ExternalCassandra = NonNullable<ChatClusterSpec['cassandra']['external']>;

/** A parsed spec with the encryption fields. A plain ChatClusterSpec is one (every new field is optional). */
export type SpecWithEncryption = Omit<ChatClusterSpec, 'redis' | 'cassandra'> & {
  tls?: TlsSpec | undefined;
  encryption?: EncryptionSpec | undefined;
  redis: Omit<ChatClusterSpec['redis'], 'external'> & { external?: (ExternalRedis & { caSecretRef?: z.infer<typeof SecretKeyRef> | undefined }) | undefined };
  cassandra: Omit<ChatClusterSpec['cassandra'], 'external'> & { external?: (ExternalCassandra & { tls?: CassandraTlsSpec | undefined }) | undefined };
};

/** A ChatCluster whose spec carries the encryption fields (the operator's reading of a stored one). */
export type ChatClusterWithEncryption = Omit<ChatCluster, 'spec'> & { spec: SpecWithEncryption };

/**
 * The parsed spec with the encryption fields read from the stored one (`raw`). Throws a
 * ZodError naming the field when they break the CRD's rules (which the API server checks
 * first, so only a CRD older than this operator lets such a spec through).
 */
export function withEncryptionFields(spec: ChatClusterSpec, raw: unknown): SpecWithEncryption {
  const fields = EncryptionFields.parse(raw ?? {});
  const result: SpecWithEncryption = { ...spec };
  if (fields.tls !== undefined) result.tls = fields.tls;
  if (fields.encryption !== undefined) result.encryption = fields.encryption;
  const caSecretRef = fields.redis?.external?.caSecretRef;
  if (caSecretRef !== undefined && spec.redis.external !== undefined) result.redis = { ...spec.redis, external: { ...spec.redis.external, caSecretRef } };
  const cassandraTls = fields.cassandra?.external?.tls;
  if (cassandraTls !== undefined && spec.cassandra.external !== undefined) result.cassandra = { ...spec.cassandra, external: { ...spec.cassandra.external, tls: cassandraTls } };
  return result;
}
