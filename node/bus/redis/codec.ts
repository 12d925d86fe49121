import type { Ack } from '../../protocol/frames.js';
import { ChatError } from '../../protocol/errors.js';
import type { Envelope, Signal } from '../bus.js';

/** The stream field that holds an envelope (as JSON). */
export const ENVELOPE_FIELD = 'e';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseEnvelope(text: string): Envelope {
  const value: unknown = JSON.parse(text);
  if (isRecord(value) && (value.kind === 'message' || value.kind === 'membership' || value.kind === 'watermark')) return value as Envelope;
  throw new Error(`inbox entry is not an envelope: ${text.slice(0, 200)}`);
}

export function parseSignal(text: string): Signal {
  const value: unknown = JSON.parse(text);
  if (
    isRecord(value) &&
    value.kind === 'typing' &&
    typeof value.from === 'string' &&
    typeof value.conv === 'string' &&
    (value.users === undefined || Array.isArray(value.users))
  ) {
    // No users: a group's typing, relayed to the receiving node's members of the group.
    const users = Array.isArray(value.users) ? { users: value.users.map(String) } : {};
    return { kind: 'typing', from: value.from, conv: value.conv, ...users };
  }
  throw new Error(`not a signal: ${text.slice(0, 200)}`);
}

export function parseAck(text: string): Ack {
  const value: unknown = JSON.parse(text);
  if (isRecord(value) && typeof value.id === 'string' && typeof value.ts === 'number' && typeof value.conv === 'string') {
    return { id: value.id, ts: value.ts, conv: value.conv };
  }
  throw new ChatError('internal', 'stored idempotency ack is malformed');
}

export function stringsOf(value: unknown): string[] {
  if (!Array.isArray(value)) throw new Error('Redis answered with something other than a list');
  return value.map((item) => String(item));
}
