import type { types } from 'cassandra-driver';
import { ChatError } from '../../protocol/errors.js';
import type { ChatMessage, Target } from '../../protocol/frames.js';
import { isMessageId } from '../../protocol/ids.js';

/** Row decoding and argument checks of the Cassandra store: a wrong column type is a bug, not input. */
export function checkMessageId(id: string): void {
  if (!isMessageId(id)) throw new ChatError('bad_request', `${JSON.stringify(id)} is not a message id`);
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new ChatError('bad_request', `limit ${limit} is not a whole number ≥ 1`);
}

export function messageOf(row: types.Row): ChatMessage {
  const kind = text(row, 'to_kind');
  const toId = text(row, 'to_id');
  let to: Target;
  if (kind === 'group') to = { group: toId };
  else if (kind === 'user') to = { user: toId };
  else throw new Error(`message ${text(row, 'id')} has to_kind ${JSON.stringify(kind)}`);
  return { id: text(row, 'id'), conv: text(row, 'conv_id'), from: text(row, 'from_user'), to, text: text(row, 'text'), ts: millis(row, 'ts') };
}

export function text(row: types.Row, column: string): string {
  const value: unknown = row.get(column);
  if (typeof value !== 'string') throw new Error(`column ${column} is ${String(value)}, not text`);
  return value;
}

export function int(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (typeof value !== 'number') throw new Error(`column ${column} is ${String(value)}, not an int`);
  return value;
}

export function millis(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (!(value instanceof Date)) throw new Error(`column ${column} is ${String(value)}, not a timestamp`);
  return value.getTime();
}
