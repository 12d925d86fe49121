import { z } from 'zod';
import { ClientFrame } from '../../node/protocol/frames.js';

/**
 * A seeded generator of hostile client frames, derived from the zod schemas of
 * node/protocol/frames.ts: for every frame type and every field (nested ones included), the
 * field missing, of every wrong JSON type, at and past its boundary lengths, with unicode
 * edge cases and prototype keys; plus frames that are not frames at all (binary, truncated,
 * deeply nested, not UTF-8, oversized). Each case says what a conforming node must answer.
 */

/** What a node must do with a fuzz case. */
export type Expectation =
  /** Not a valid frame: an `error` with code `bad_request`, the socket stays open (until 1008). */
  | 'bad_request'
  /** Valid by the schema: any reply (or none, for `typing`); never `bad_request`. */
  | 'valid'
  /** Over the frame size limit: the socket is closed with 1009. */
  | 'close_1009'
  /** A text frame that is not UTF-8: RFC 6455 makes the node close with 1007. */
  | 'close_1007';

export interface FuzzCase {
  /** What the case does, for failure messages and the summary ("send.to.user: wrong type number"). */
  name: string;
  payload: Buffer;
  binary: boolean;
  expect: Expectation;
}

/** sfc32: a small, fast, seedable PRNG; the same seed gives the same cases on every machine. */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = z.core.$ZodType;

/** The zod definition of a schema, as far as the walker needs it. */
interface Definition {
  type: string;
  innerType?: Schema;
  options?: readonly Schema[];
  shape?: Record<string, Schema>;
  element?: Schema;
  values?: readonly unknown[];
  checks?: readonly { _zod: { def: { check: string; maximum?: number; minimum?: number; pattern?: RegExp; value?: number } } }[];
  in?: Schema;
}

function definition(schema: Schema): Definition {
  return schema._zod.def;
}

/** Strips optional/default wrappers: the schema a present value must satisfy. */
function unwrapped(schema: Schema): { schema: Schema; optional: boolean } {
  let current = schema;
  let optional = false;
  for (;;) {
    const def = definition(current);
    if ((def.type === 'optional' || def.type === 'default') && def.innerType !== undefined) {
      optional = true;
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in !== undefined) {
      current = def.in;
    } else {
      return { schema: current, optional };
    }
  }
}

/** Length bounds of a string or array schema: from max/min checks, or a `{m,n}` in its pattern. */
function lengthBounds(schema: Schema): { min: number; max: number | undefined } {
  let min = 0;
  let max: number | undefined;
  for (const check of definition(schema).checks ?? []) {
    const def = check._zod.def;
    if (def.check === 'max_length' && def.maximum !== undefined) max = def.maximum;
    if (def.check === 'min_length' && def.minimum !== undefined) min = def.minimum;
    if (def.check === 'string_format' && def.pattern !== undefined) {
      const quantifier = /\{(\d+),(\d+)\}\$$/.exec(def.pattern.source);
      if (quantifier !== null) {
        min = Number(quantifier[1]);
        max = Number(quantifier[2]);
      }
    }
  }
  return { min, max };
}

/** Strings some field of the protocol accepts; the walker picks the first one a schema takes. */
const SAMPLE_STRINGS = ['fuzz-user', 'fuzzgroup', '01JDZ3K4Q6P4XW0AABBCCDDEEF', 'c1.0', 'hello'];

/** A value the schema accepts (the base every mutation starts from). */
export function validValue(schema: Schema): Json {
  const { schema: inner } = unwrapped(schema);
  const def = definition(inner);
  switch (def.type) {
    case 'literal':
      return def.values?.[0] as Json;
    case 'string': {
      const sample = SAMPLE_STRINGS.find((candidate) => z.safeParse(inner, candidate).success);
      if (sample === undefined) throw new Error('no sample string fits a schema; add one to SAMPLE_STRINGS');
      return sample;
    }
    case 'number':
      return 10;
    case 'union':
      return validValue((def.options ?? [])[0] as Schema);
    case 'array':
      return [validValue(def.element as Schema)];
    case 'object': {
      const value: Record<string, Json> = {};
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        if (!unwrapped(field).optional || key === 'ref') value[key] = validValue(field);
      }
      return value;
    }
    default:
      throw new Error(`the fuzzer does not know zod type ${def.type}`);
  }
}

/** A field somewhere in a frame: its path from the frame's root and its schema. */
interface FieldPath {
  path: string[];
  schema: Schema;
}

/** Every field of an object schema, nested objects, union members and array elements included. */
function fieldsOf(schema: Schema, prefix: string[] = []): FieldPath[] {
  const { schema: inner } = unwrapped(schema);
  const def = definition(inner);
  const own: FieldPath[] = prefix.length === 0 ? [] : [{ path: prefix, schema }];
  if (def.type === 'object') {
    return [...own, ...Object.entries(def.shape ?? {}).flatMap(([key, field]) => fieldsOf(field, [...prefix, key]))];
  }
  if (def.type === 'union') {
    // The first object member is the one validValue builds, so its fields are the ones to mutate.
    const member = (def.options ?? []).find((option) => definition(unwrapped(option).schema).type === 'object');
    return member === undefined ? own : [...own, ...fieldsOf(member, prefix).filter((field) => field.path.length > prefix.length)];
  }
  if (def.type === 'array') return [...own, ...fieldsOf(def.element as Schema, [...prefix, '0']).filter((field) => field.path.length > prefix.length + 1)];
  return own;
}

/** Unicode that trips parsers and renderers: lone surrogates, NUL, bidi overrides, zero-width, astral, combining. */
const UNICODE_EDGES = [
  '\ud800',
  '\udfff',
  'a\u0000b',
  '\u202eevil',
  '\ufeff',
  '\u200b\u200d',
  '𝕏😀👩‍👩‍👧',
  'e\u0301'.repeat(200),
  '\u{10ffff}',
  '\\u0000',
  '%00../..',
];

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * Stands for an array nested 20,000 deep in a structured mutation: swapped in after
 * JSON.stringify, which would itself overflow the stack on such a value.
 */
const NESTED_PLACEHOLDER = '\u0000nested\u0000';
const NESTED_VALUE = '['.repeat(20_000) + ']'.repeat(20_000);

/** Every wrong JSON type for a value (the one of its own type is kept only if it is still wrong). */
const WRONG_TYPES: { name: string; value: Json }[] = [
  { name: 'null', value: null },
  { name: 'true', value: true },
  { name: 'zero', value: 0 },
  { name: 'negative', value: -1 },
  { name: 'fraction', value: 1.5 },
  { name: 'huge number', value: 1e308 },
  { name: 'empty string', value: '' },
  { name: 'string', value: 'x' },
  { name: 'empty array', value: [] },
  { name: 'array', value: ['fuzz-user'] },
  { name: 'empty object', value: {} },
  { name: 'object', value: { user: 'fuzz-user' } },
];

function setAt(frame: Record<string, Json>, path: readonly string[], value: Json | undefined): Record<string, Json> {
  const copy = structuredClone(frame);
  let container: Record<string, Json> | Json[] = copy;
  for (const key of path.slice(0, -1)) {
    const child: Json | undefined = (container as Record<string, Json>)[key];
    if (child === null || typeof child !== 'object') return copy;
    container = child;
  }
  const last = path.at(-1) ?? '';
  if (value === undefined) {
    if (Array.isArray(container)) container.splice(Number(last), 1);
    else Reflect.deleteProperty(container, last);
  } else if (last === '__proto__' || PROTOTYPE_KEYS.includes(last)) {
    Object.defineProperty(container, last, { value, enumerable: true, configurable: true, writable: true });
  } else {
    (container as Record<string, Json>)[last] = value;
  }
  return copy;
}

/** A JSON object with a key named `__proto__` as an own property (as JSON.parse makes it), not a prototype. */
function withOwnKey(object: Record<string, Json>, key: string, value: Json): Record<string, Json> {
  const copy = structuredClone(object);
  Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

/** The structured mutations of one frame type: every field, every way, from its schema. */
function mutationsOf(option: Schema): { name: string; frame: Json }[] {
  const base = validValue(option) as Record<string, Json>;
  const type = typeof base.type === 'string' ? base.type : 'unknown';
  const cases: { name: string; frame: Json }[] = [{ name: `${type}: valid`, frame: base }];
  const add = (name: string, frame: Json): void => {
    cases.push({ name: `${type}.${name}`, frame });
  };
  for (const { path, schema } of fieldsOf(option)) {
    const at = path.join('.');
    const { schema: inner } = unwrapped(schema);
    const def = definition(inner);
    add(`${at}: missing`, setAt(base, path, undefined));
    for (const wrong of WRONG_TYPES) add(`${at}: ${wrong.name}`, setAt(base, path, wrong.value));
    if (def.type === 'string' || def.type === 'union' || def.type === 'literal') {
      const { min, max } = def.type === 'string' ? lengthBounds(inner) : { min: 0, max: undefined };
      const sample = validValue(inner);
      const fill = typeof sample === 'string' && sample.length > 0 ? sample[0] ?? 'a' : 'a';
      for (const length of new Set([0, Math.max(0, min - 1), min, max ?? 64, (max ?? 64) + 1, 1000, 20_000])) {
        add(`${at}: length ${length}`, setAt(base, path, fill.repeat(length)));
      }
      for (const edge of UNICODE_EDGES) {
        add(`${at}: unicode ${JSON.stringify(edge).slice(0, 12)}`, setAt(base, path, edge));
        if (typeof sample === 'string') add(`${at}: valid + unicode`, setAt(base, path, sample + edge));
      }
      if (typeof sample === 'string') {
        add(`${at}: upper case`, setAt(base, path, sample.toUpperCase()));
        add(`${at}: padded`, setAt(base, path, ` ${sample} `));
      }
    }
    if (def.type === 'number') {
      for (const value of [-0, -1, 0, 1, 200, 201, 2 ** 53, -(2 ** 53), 1e-9]) add(`${at}: ${value}`, setAt(base, path, value));
      add(`${at}: numeric string`, setAt(base, path, '50'));
    }
    if (def.type === 'array') {
      const { max } = lengthBounds(inner);
      const element = validValue(def.element as Schema);
      for (const length of [0, max ?? 1000, (max ?? 1000) + 1, 2000]) add(`${at}: ${length} elements`, setAt(base, path, Array.from({ length }, () => element)));
      add(`${at}: nested arrays`, setAt(base, path, [[element]]));
    }
    if (def.type === 'object' || def.type === 'union') {
      const sample = validValue(inner);
      if (sample !== null && typeof sample === 'object' && !Array.isArray(sample)) {
        for (const key of PROTOTYPE_KEYS) {
          add(`${at}: own ${key} key`, setAt(base, path, withOwnKey(sample, key, { user: 'admin', group: 'admins' })));
          add(`${at}: only ${key} key`, setAt(base, path, withOwnKey({}, key, sample)));
        }
        add(`${at}: extra field`, setAt(base, path, { ...sample, extra: 1 }));
        add(`${at}: user and group`, setAt(base, path, { user: 'fuzz-user', group: 'fuzzgroup' }));
      }
    }
  }
  for (const key of PROTOTYPE_KEYS) {
    add(`${key} at the top`, withOwnKey(base, key, { type: 'group.create', isAdmin: true }));
    add(`${key} as the type`, { ...base, type: key });
  }
  add('extra field', { ...base, extra: { deep: [1, 2, 3] } });
  for (const { path } of fieldsOf(option)) add(`${path.join('.')}: nested 20000`, setAt(base, path, NESTED_PLACEHOLDER));
  add('type upper case', { ...base, type: type.toUpperCase() });
  add('type with a space', { ...base, type: `${type} ` });
  return cases;
}

/** JSON nested `depth` deep: `[[[…]]]` or `{"a":{"a":…}}`. */
function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

export interface CorpusOptions {
  seed: number;
  /** The node's frame limit: frames above it must close the socket with 1009. */
  maxFrameBytes: number;
}

/**
 * The fuzz corpus: every structured mutation of every frame type, then raw cases (binary,
 * truncated, nested, non-objects, not UTF-8, oversized). Seeded: truncation points, byte
 * garbage and nesting depths come from the PRNG.
 */
export function fuzzCorpus(options: CorpusOptions): FuzzCase[] {
  const random = seededRandom(options.seed);
  const cases: FuzzCase[] = [];
  const text = (name: string, body: string): void => {
    const payload = Buffer.from(body, 'utf8');
    cases.push({ name, payload, binary: false, expect: expectationOf(body, payload.length, options.maxFrameBytes) });
  };
  for (const option of ClientFrame.options) {
    for (const mutation of mutationsOf(option)) text(mutation.name, JSON.stringify(mutation.frame).replace(JSON.stringify(NESTED_PLACEHOLDER), NESTED_VALUE));
  }
  const structured = cases.slice();
  for (let i = 0; i < 200; i++) {
    const source = structured[Math.floor(random() * structured.length)];
    if (source === undefined) continue;
    const body = source.payload.toString('utf8');
    text(`truncated ${source.name}`, body.slice(0, Math.floor(random() * body.length)));
    const garbage = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 512) }, () => Math.floor(random() * 256)));
    cases.push({ name: 'binary garbage', payload: garbage, binary: true, expect: 'bad_request' });
    cases.push({ name: `binary ${source.name}`, payload: source.payload, binary: true, expect: source.payload.length > options.maxFrameBytes ? 'close_1009' : 'bad_request' });
  }
  for (const depth of [100, 1000, 5000, 30_000]) {
    text(`array nested ${depth}`, nested(depth, 'array'));
    text(`object nested ${depth}`, nested(depth, 'object'));
    text(`send with a field nested ${depth}`, `{"type":"send","to":{"user":"fuzz-user"},"text":"hi","extra":${nested(depth, 'array')}}`);
    text(`send with to nested ${depth}`, `{"type":"send","to":${nested(depth, 'object')},"text":"hi"}`);
  }
  for (const body of ['', ' ', 'null', 'true', '0', '"send"', '[]', '[{"type":"groups"}]', '{}', '{"type":null}', '{"type":"groups"', '{"type":"groups",}', "{'type':'groups'}", '{"type":"groups"}{"type":"groups"}', '\u0000', '{"type":"groups","ref":"\ud800"}']) {
    text(`raw ${JSON.stringify(body).slice(0, 30)}`, body);
  }
  // Duplicate keys: JSON.parse keeps the last; a valid type first and a bad one last must still fail.
  text('duplicate type key', '{"type":"groups","type":"nope"}');
  text('duplicate to key', '{"type":"send","to":{"user":"fuzz-user"},"to":{"user":"../../etc"},"text":"hi"}');
  for (const bytes of [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
    cases.push({ name: 'text frame not UTF-8', payload: Buffer.concat([Buffer.from('{"type":"groups","ref":"'), Buffer.from(bytes), Buffer.from('"}')]), binary: false, expect: 'close_1007' });
  }
  text('oversized send', JSON.stringify({ type: 'send', to: { user: 'fuzz-user' }, text: 'x'.repeat(options.maxFrameBytes) }));
  text('oversized garbage', 'y'.repeat(options.maxFrameBytes + 1));
  text('frame at the limit', JSON.stringify({ type: 'send', to: { user: 'fuzz-user' }, text: 'x'.repeat(options.maxFrameBytes - 60) }).padEnd(options.maxFrameBytes, ' '));
  return cases;
}

/** What the node must answer to a text frame, judged by the same schema the node uses. */
function expectationOf(body: string, bytes: number, maxFrameBytes: number): Expectation {
  if (bytes > maxFrameBytes) return 'close_1009';
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'bad_request';
  }
  return ClientFrame.safeParse(value).success ? 'valid' : 'bad_request';
}
