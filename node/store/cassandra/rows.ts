import type { types } from 'cassandra-driver';
import { ChatError } from '../../protocol/errors.js';
import type { ChatMessage, Target } from '../../protocol/frames.js';
import { isMessageId } from '../../protocol/ids.js';
import type { TextSealer } from '../../at-rest/text-sealer.js';

/** Row decoding and argument checks of the Cassandra store: a wrong column type is a bug, not input. */
export function checkMessageId(id: string): void {
  if (!isMessageId(id)) throw new ChatError('bad_request', `${JSON.stringify(id)} is not a message id`);
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new ChatError('bad_request', `limit ${limit} is not a whole number ≥ 1`);
}

/** A message row as the protocol's message; a sealed text is opened with `sealer`. */
export function messageOf(row: types.Row, sealer: TextSealer | undefined): ChatMessage {
  const kind = text(row, 'to_kind');
  const toId = text(row, 'to_id');
  let to: Target;
  if (kind === 'group') to = { group: toId };
  else if (kind === 'user') to = { user: toId };
  else throw new Error(`message ${text(row, 'id')} has to_kind ${JSON.stringify(kind)}`);
  const id = text(row, 'id');
  const conv = text(row, 'conv_id');
  return { id, conv, from: text(row, 'from_user'), to, text: messageText(row, sealer), ts: millis(row, 'ts') };
}

/** The row's text: the plaintext column, or the sealed one opened (a row may hold either while a re-encryption pass runs). */
export function messageText(row: types.Row, sealer: TextSealer | undefined): string {
  const sealed: unknown = row.get('sealed');
  if (sealed === null || sealed === undefined) return text(row, 'text');
  if (!Buffer.isBuffer(sealed)) throw new Error(`column sealed is a ${typeof sealed}, not a blob`);
  const id = text(row, 'id');
  if (sealer === undefined) {
    throw new ChatError('internal', `message ${id} is encrypted at rest and this node has no keys (set CHAT_AT_REST_KEYS_DIR)`);
  }
  return sealer.open(sealed, text(row, 'conv_id'), id);
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
