/**
 * crds/chatcluster.yaml (the API server's schema) agrees with common/chatcluster.ts (the
 * operator's): the same fields with the same types, enums, ranges, patterns and defaults,
 * the same defaulted spec, and the status, subresources and names CRD.md asks for.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CHATCLUSTER_GROUP,
  CHATCLUSTER_KIND,
  CHATCLUSTER_PLURAL,
  CHATCLUSTER_VERSION,
  CONDITION_TYPES,
  ChatClusterSpec,
  parseChatClusterSpec,
  REDIS_MODES,
  type ChatClusterStatus,
  type RedisStatus,
  type Condition,
  type Phase,
} from '../../common/chatcluster.js';

/** The parts of a JSON Schema / OpenAPI v3 node (zod's output or the CRD's) that the comparison reads. */
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  default?: unknown;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string; fieldPath?: string; reason?: string }[];
}

interface CustomResourceDefinition {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const crd = parse(readFileSync(new URL('../../crds/chatcluster.yaml', import.meta.url), 'utf8')) as CustomResourceDefinition;
const version = crd.spec.versions.find((candidate) => candidate.name === CHATCLUSTER_VERSION);
if (version === undefined) throw new Error(`crds/chatcluster.yaml has no version ${CHATCLUSTER_VERSION}`);
const rootSchema = version.schema.openAPIV3Schema;
const specSchema = property(rootSchema, 'spec');
const statusSchema = property(rootSchema, 'status');

function property(schema: Schema, name: string): Schema {
  const found = schema.properties?.[name];
  if (found === undefined) throw new Error(`the schema has no property ${name}`);
  return found;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What one node of a schema says about its value, in terms common to zod's JSON Schema and the CRD. */
type Facts = Record<string, unknown>;

/**
 * Flattens a schema to its nodes by path (`spec.redis.managed.storage`, `[]` for list
 * items, `.*` for map values), each with its facts; `side` reads the dialect of each.
 */
function flatten(schema: Schema, path: string, side: 'zod' | 'crd', out = new Map<string, Facts>()): Map<string, Facts> {
  const facts: Facts = {};
  const anyOfTypes = schema.anyOf?.map((branch) => branch.type);
  if (side === 'crd' && schema['x-kubernetes-int-or-string'] === true) {
    facts.type = 'integer|string';
  } else if (anyOfTypes !== undefined) {
    facts.type = anyOfTypes.sort().join('|');
  } else {
    facts.type = schema.type;
  }
  const pattern = schema.pattern ?? schema.anyOf?.find((branch) => branch.pattern !== undefined)?.pattern;
  if (pattern !== undefined) facts.pattern = pattern;
  for (const key of ['enum', 'minimum', 'maximum', 'minLength', 'minItems', 'default'] as const) {
    if (schema[key] !== undefined) facts[key] = schema[key];
  }
  if (schema.type === 'object') facts.required = [...(schema.required ?? [])].sort();
  // A pass-through object: zod's record of unknown, the CRD's preserve-unknown-fields.
  const zodPassThrough = side === 'zod' && isObject(schema.additionalProperties) && Object.keys(schema.additionalProperties).length === 0;
  const crdPassThrough = side === 'crd' && schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (zodPassThrough || crdPassThrough) facts.passThrough = true;
  out.set(path, facts);

  for (const [name, child] of Object.entries(schema.properties ?? {})) flatten(child, `${path}.${name}`, side, out);
  if (schema.items !== undefined) flatten(schema.items, `${path}[]`, side, out);
  if (isObject(schema.additionalProperties) && !zodPassThrough) flatten(schema.additionalProperties, `${path}.*`, side, out);
  return out;
}

/** Every difference between two flattened schemas, one line each, led by the field's path. */
function differences(zod: Map<string, Facts>, crdNodes: Map<string, Facts>): string[] {
  const found: string[] = [];
  for (const path of new Set([...zod.keys(), ...crdNodes.keys()])) {
    const left = zod.get(path);
    const right = crdNodes.get(path);
    if (left === undefined) {
      found.push(`${path}: only in the CRD`);
      continue;
    }
    if (right === undefined) {
      found.push(`${path}: only in common/chatcluster.ts`);
      continue;
    }
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
      if (!isDeepStrictEqual(left[key], right[key])) found.push(`${path}: ${key} is ${JSON.stringify(left[key])} in zod, ${JSON.stringify(right[key])} in the CRD`);
    }
  }
  return found;
}

/** The spec as zod reads it (fields with a default are optional), proposed changes applied. */
function zodSpecSchema(): Schema {
  const schema = z.toJSONSchema(ChatClusterSpec, { io: 'input' }) as Schema;
  // parseChatClusterSpec reads an absent spec as {}: the CRD's default for spec.
  return { ...schema, default: {} };
}

/** The API server's structural defaulting: missing properties get their default, then each value is defaulted in turn. */
function applyDefaults(value: unknown, schema: Schema): unknown {
  if (Array.isArray(value)) return value.map((item: unknown) => (schema.items === undefined ? item : applyDefaults(item, schema.items)));
  if (!isObject(value)) return value;
  const result: Record<string, unknown> = { ...value };
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (!(name in result) && child.default !== undefined) result[name] = structuredClone(child.default);
  }
  for (const [name, child] of Object.entries(result)) {
    const childSchema = schema.properties?.[name] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (childSchema !== undefined) result[name] = applyDefaults(child, childSchema);
  }
  return result;
}

/** The schema a rule's fieldPath (`.a.b`) leads to from `schema`, through its properties. */
function schemaAt(schema: Schema, fieldPath: string): Schema | undefined {
  return fieldPath
    .split('.')
    .slice(1)
    .reduce<Schema | undefined>((at, name) => at?.properties?.[name], schema);
}

/** Each path at which a schema has CEL rules, with the rules. */
function celRules(schema: Schema, path: string, out: { path: string; schema: Schema; rule: NonNullable<Schema['x-kubernetes-validations']>[number] }[] = []) {
  for (const rule of schema['x-kubernetes-validations'] ?? []) out.push({ path, schema, rule });
  for (const [name, child] of Object.entries(schema.properties ?? {})) celRules(child, `${path}.${name}`, out);
  if (schema.items !== undefined) celRules(schema.items, `${path}[]`, out);
  return out;
}

describe('the CRD’s spec schema and common/chatcluster.ts', () => {
  it('have the same fields, types, enums, ranges, patterns, required fields and defaults', () => {
    const zodNodes = flatten(zodSpecSchema(), 'spec', 'zod');
    const crdNodes = flatten(specSchema, 'spec', 'crd');
    expect(differences(zodNodes, crdNodes)).toEqual([]);
    // Not vacuous: every field of both was compared.
    expect(zodNodes.size).toBeGreaterThan(60);
  });

  it('the comparison catches a difference and names its path', () => {
    const altered = structuredClone(specSchema);
    const managed = property(property(altered, 'cassandra'), 'managed');
    property(managed, 'replicationFactor').maximum = 5;
    delete property(managed, 'storage').default;
    expect(differences(flatten(zodSpecSchema(), 'spec', 'zod'), flatten(altered, 'spec', 'crd'))).toEqual([
      'spec.cassandra.managed.storage: default is "10Gi" in zod, undefined in the CRD',
      'spec.cassandra.managed.replicationFactor: maximum is 9 in zod, 5 in the CRD',
    ]);
  });

  it.each([
    { what: 'no spec at all', spec: undefined },
    { what: 'an empty spec', spec: {} },
    { what: 'external Redis and Cassandra', spec: { redis: { external: { url: 'redis://r:6379' } }, cassandra: { external: { contactPoints: ['c:9042'] } } } },
    { what: 'a partly written managed Cassandra', spec: { cassandra: { managed: { replicas: 5 } }, service: { type: 'NodePort' }, autoscaling: { enabled: false } } },
    { what: 'a partly written managed Redis', spec: { redis: { managed: { resources: { limits: { memory: '1Gi' } } } }, monitoring: {} } },
    { what: 'a managed Redis with a mode and no replicas', spec: { redis: { managed: { mode: 'sentinel' } } } },
    { what: 'an external Sentinel Redis', spec: { redis: { external: { url: 'redis+sentinel://s1:26379,s2:26379/chat' } } } },
  ])('default $what as the operator does', ({ spec }) => {
    const stored = applyDefaults(spec === undefined ? {} : { spec }, rootSchema) as { spec: unknown };
    expect(stored.spec).toEqual(parseChatClusterSpec(spec));
  });

  it('has cross-field CEL rules for min <= max, exactly one of managed/external, replication factor, auth and TLS, and transition rules for what cannot change in place', () => {
    const rules = celRules(specSchema, 'spec').map(({ path, rule }) => `${path}: ${rule.rule}`);
    expect(rules).toEqual([
      'spec.autoscaling: self.minReplicas <= self.maxReplicas',
      'spec.redis: has(self.managed) || has(self.external)',
      'spec.redis: !(has(self.managed) && has(self.external))',
      "spec.redis.managed: !has(self.replicas) || self.replicas == 1 || (self.replicas >= 3 && self.replicas % 2 == 1)",
      "spec.redis.managed: !(has(self.mode) && self.mode == 'standalone' && has(self.replicas) && self.replicas != 1)",
      "spec.redis.managed: !(has(self.mode) && self.mode == 'sentinel' && has(self.replicas) && self.replicas < 3)",
      'spec.redis.managed.storage: self == oldSelf',
      "spec.redis.external: has(self.secretRef) || !has(self.caSecretRef) || self.url.startsWith('rediss')",
      'spec.cassandra: has(self.managed) || has(self.external)',
      'spec.cassandra: !(has(self.managed) && has(self.external))',
      'spec.cassandra.managed: self.replicationFactor <= self.replicas',
      'spec.cassandra.managed.replicas: self >= oldSelf',
      'spec.cassandra.managed.storage: self == oldSelf',
      'spec.cassandra.managed.replicationFactor: self == oldSelf',
      'spec.cassandra.external.replicationFactor: self == oldSelf',
      'spec.cassandra.external.tls: self.enabled || !has(self.caSecretRef)',
      'spec.cassandra.keyspace: self == oldSelf',
      'spec.auth: !(has(self.jwtSecretRef) && has(self.jwksURL))',
      'spec.tls: (has(self.secretName) ? 1 : 0) + (has(self.issuerRef) ? 1 : 0) + (has(self.selfSigned) ? 1 : 0) == 1',
      'spec.tls: !has(self.dnsNames) || !has(self.secretName)',
      'spec.tls: !has(self.selfSigned) || self.selfSigned',
    ]);
  });

  it('gives every CEL rule a message that names its field, a reason the API server accepts, and a fieldPath that exists', () => {
    for (const { path, schema, rule } of celRules(rootSchema, '')) {
      const field = path.replace(/^\.spec\./, '');
      expect(rule.message, path).toContain(field);
      expect(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate', undefined], path).toContain(rule.reason);
      if (rule.fieldPath !== undefined) expect(schemaAt(schema, rule.fieldPath), `${path}: fieldPath ${rule.fieldPath}`).toBeDefined();
    }
  });

  it('refuses, at the root, a tls.secretName that is one of the Secrets the operator writes', () => {
    const rules = celRules(rootSchema, '').filter(({ path }) => path === '');
    expect(rules.map(({ rule }) => rule.fieldPath)).toEqual(['.spec.tls.secretName']);
    expect(rules[0]?.rule.rule).toContain("self.metadata.name + '-tls', self.metadata.name + '-ca'");
  });
});

describe('the CRD’s status schema and common/chatcluster.ts', () => {
  // Object literals typed against the TypeScript types: a field added there and not here fails to compile.
  const statusFields: Record<keyof ChatClusterStatus, true> = {
    observedGeneration: true,
    phase: true,
    conditions: true,
    replicas: true,
    readyReplicas: true,
    connections: true,
    selector: true,
    endpoint: true,
    redis: true,
  };
  const conditionFields: Record<keyof Condition, true> = { type: true, status: true, reason: true, message: true, lastTransitionTime: true, observedGeneration: true };
  const phases: Record<Phase, true> = { Pending: true, Progressing: true, Ready: true, Degraded: true };
  const conditionStatuses: Record<Condition['status'], true> = { True: true, False: true, Unknown: true };
  const conditions = property(statusSchema, 'conditions') as Schema & { 'x-kubernetes-list-type'?: string; 'x-kubernetes-list-map-keys'?: string[] };
  const condition = conditions.items ?? {};

  it('has the fields of ChatClusterStatus and Condition', () => {
    expect(Object.keys(statusSchema.properties ?? {}).sort()).toEqual(Object.keys(statusFields).sort());
    expect(Object.keys(condition.properties ?? {}).sort()).toEqual(Object.keys(conditionFields).sort());
  });

  it('has the phases, condition types and condition statuses of the TypeScript types', () => {
    expect(property(statusSchema, 'phase').enum).toEqual(Object.keys(phases));
    expect(property(condition, 'type').enum).toEqual([...CONDITION_TYPES]);
    expect(property(condition, 'status').enum).toEqual(Object.keys(conditionStatuses));
  });

  it('keeps conditions as a map keyed by type, so each type appears once', () => {
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(condition.required).toContain('type');
  });

  it('has integer counts and string selector and endpoint', () => {
    for (const name of ['observedGeneration', 'replicas', 'readyReplicas', 'connections']) expect(property(statusSchema, name).type, name).toBe('integer');
    for (const name of ['selector', 'endpoint']) expect(property(statusSchema, name).type, name).toBe('string');
  });

  it('reports the managed Redis’s mode (the modes of the spec) and its primary pod', () => {
    const redis = property(statusSchema, 'redis');
    const fields: Record<keyof RedisStatus, true> = { mode: true, primary: true };
    expect(Object.keys(redis.properties ?? {}).sort()).toEqual(Object.keys(fields).sort());
    expect(property(redis, 'mode').enum).toEqual([...REDIS_MODES]);
    expect(property(property(property(specSchema, 'redis'), 'managed'), 'mode').enum).toEqual([...REDIS_MODES]);
    expect(property(redis, 'primary').type).toBe('string');
  });
});

describe('the CRD’s names, subresources and printer columns', () => {
  it('is chatclusters.chatcluster.dev, kind ChatCluster, short name chat, category chatcluster, namespaced', () => {
    expect(crd.metadata.name).toBe(`${CHATCLUSTER_PLURAL}.${CHATCLUSTER_GROUP}`);
    expect(crd.spec.group).toBe(CHATCLUSTER_GROUP);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: CHATCLUSTER_KIND, plural: CHATCLUSTER_PLURAL, singular: 'chatcluster', shortNames: ['chat'], categories: ['chatcluster'] });
  });

  it('serves and stores v1alpha1, its only version', () => {
    expect(crd.spec.versions.map(({ name, served, storage }) => ({ name, served, storage }))).toEqual([{ name: CHATCLUSTER_VERSION, served: true, storage: true }]);
  });

  it('has a status subresource and a scale subresource on spec.replicas, status.replicas and status.selector', () => {
    expect(version.subresources?.status).toEqual({});
    expect(version.subresources?.scale).toEqual({ specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' });
    expect(property(specSchema, 'replicas').type).toBe('integer');
  });

  it('prints Ready, Phase, Replicas, Connections and Age', () => {
    const columns = (version.additionalPrinterColumns ?? []).map(({ name, type, jsonPath }) => ({ name, type, jsonPath }));
    expect(columns).toEqual([
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Replicas', type: 'integer', jsonPath: '.status.replicas' },
      { name: 'Connections', type: 'integer', jsonPath: '.status.connections' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ]);
  });
});
