import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z, ZodError } from 'zod';
import { parseChatClusterSpec } from '../../common/chatcluster.js';
import { CassandraTlsSpec, EncryptionSpec, TlsSpec, withEncryptionFields } from './encryption-fields.js';

/** A CRD or JSON Schema node, as far as the comparison reads it. */
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  default?: unknown;
}

const crd = parse(readFileSync(new URL('../../crds/chatcluster.yaml', import.meta.url), 'utf8')) as {
  spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
};
const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec ?? {};

function at(schema: Schema, ...path: string[]): Schema {
  return path.reduce<Schema>((node, name) => {
    const child = node.properties?.[name];
    if (child === undefined) throw new Error(`no ${path.join('.')} in the CRD`);
    return child;
  }, schema);
}

/** Every node's facts by path: what the CRD and zod must agree on (the CEL rules are checked on the API server). */
function facts(schema: Schema, path = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  out[path || '.'] = {
    type: schema.type,
    ...(schema.type === 'object' ? { required: [...(schema.required ?? [])].sort() } : {}),
    ...Object.fromEntries((['enum', 'minLength', 'maxLength', 'default'] as const).filter((key) => schema[key] !== undefined).map((key) => [key, schema[key]])),
  };
  for (const [name, child] of Object.entries(schema.properties ?? {})) facts(child, `${path}.${name}`, out);
  return out;
}

const zodFacts = (schema: z.ZodType): Record<string, unknown> => facts(z.toJSONSchema(schema, { io: 'input' }) as Schema);

describe('the encryption fields the operator reads and the CRD', () => {
  it.each([
    { field: 'spec.tls', zod: TlsSpec, crd: at(spec, 'tls') },
    { field: 'spec.encryption', zod: EncryptionSpec, crd: at(spec, 'encryption') },
    { field: 'spec.cassandra.external.tls', zod: CassandraTlsSpec, crd: at(spec, 'cassandra', 'external', 'tls') },
  ])('agree on $field: fields, types, enums, lengths, required fields and defaults', ({ zod, crd: crdSchema }) => {
    expect(zodFacts(zod)).toEqual(facts(crdSchema));
  });

  it('agree on spec.redis.external.caSecretRef: a Secret key like secretRef', () => {
    const external = at(spec, 'redis', 'external');
    expect(facts(at(external, 'caSecretRef'))).toEqual(facts(at(external, 'secretRef')));
  });

  it('have no default at the top, so an empty spec stays as common’s parser returns it', () => {
    expect(at(spec, 'tls').default).toBeUndefined();
    expect(at(spec, 'encryption').default).toBeUndefined();
    expect(withEncryptionFields(parseChatClusterSpec({}), {})).toEqual(parseChatClusterSpec({}));
  });
});

describe('withEncryptionFields', () => {
  const read = (raw: unknown) => withEncryptionFields(parseChatClusterSpec(raw), raw);

  it('adds tls and the at-rest keys to the parsed spec', () => {
    const spec = read({ tls: { selfSigned: true }, encryption: { atRest: { keysSecretRef: { name: 'keys' } } } });
    expect(spec.tls).toEqual({ selfSigned: true });
    expect(spec.encryption?.atRest?.keysSecretRef.name).toBe('keys');
    expect(spec.replicas).toBe(3);
  });

  it('adds the CA bundles to the external Redis and Cassandra, keeping their other fields', () => {
    const caSecretRef = { name: 'ca', key: 'ca.crt' };
    const spec = read({
      redis: { external: { url: 'rediss://r:6380', caSecretRef } },
      cassandra: { external: { contactPoints: ['c:9042'], tls: { caSecretRef } } },
    });
    expect(spec.redis.external).toEqual({ url: 'rediss://r:6380', caSecretRef });
    expect(spec.cassandra.external).toEqual({ contactPoints: ['c:9042'], datacenter: 'datacenter1', tls: { enabled: true, caSecretRef } });
  });

  it('refuses what the CRD refuses, naming the field', () => {
    expect(() => read({ tls: {} })).toThrow(ZodError);
    expect(() => read({ tls: { secretName: 'a', selfSigned: true } })).toThrow(/exactly one of tls.secretName, tls.issuerRef or tls.selfSigned/);
    expect(() => read({ tls: { selfSigned: false } })).toThrow(/tls.selfSigned can only be true/);
    expect(() => read({ tls: { issuerRef: { name: 'a', kind: 'Vault' } } })).toThrow(ZodError);
    expect(() => read({ cassandra: { external: { contactPoints: ['c'], tls: { enabled: false, caSecretRef: { name: 'a', key: 'b' } } } } })).toThrow(/needs cassandra.external.tls.enabled/);
  });
});
