import { z } from 'zod';
import { ChatError } from './errors.js';
import { CURSOR } from './cursor.js';
import { MESSAGE_ID } from './ids.js';

/** Wire protocol version 1 (PROTOCOL.md): the frames, validated at the edge with zod. */
export const PROTOCOL_VERSION = 1;

export const UserId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a user id is 1 to 64 characters of [A-Za-z0-9._-]');
export const GroupName = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'a group name is 1 to 64 characters of [a-z0-9_-]');
const MessageIdOrZero = z.union([z.literal(0), z.literal('0'), z.string().regex(MESSAGE_ID, 'not a message id')]);
/** What `sync` starts from: 0, a cursor or page token, or (no guarantee) a message id. */
const SyncSince = z.union([
  z.literal(0),
  z.literal('0'),
  z.string().regex(MESSAGE_ID, 'not a message id'),
  z.string().regex(CURSOR, 'not a cursor (use the `cursor` or `next` of an earlier reply, or 0)'),
]);

export const Target = z.union([
  z.object({ user: UserId }).strict(),
  z.object({ group: GroupName }).strict(),
]);
export type Target = z.infer<typeof Target>;

const ref = z.string().max(64).optional();
const IDEM_LENGTH = 'an idempotency key is 1 to 64 characters';
const LIMIT_RANGE = 'a page is 1 to 200 messages';

/** A `send` as both the socket and `POST /v1/messages` accept it (text bytes checked apart). */
export const SendBody = z.object({
  to: Target,
  text: z.string().min(1, 'a message needs some text'),
  idem: z.string().min(1, IDEM_LENGTH).max(64, IDEM_LENGTH).optional(),
});

export const HistoryQuery = z.object({
  before: MessageIdOrZero.optional(),
  limit: z.coerce.number(LIMIT_RANGE).int(LIMIT_RANGE).min(1, LIMIT_RANGE).max(200, LIMIT_RANGE).default(50),
});

export const CreateGroupBody = z.object({ name: GroupName });
export const SyncQuery = z.object({ since: SyncSince.optional() });

export const ClientFrame = z.discriminatedUnion('type', [
  SendBody.extend({ type: z.literal('send'), ref }),
  z.object({ type: z.literal('group.create'), ref, name: GroupName }),
  z.object({ type: z.literal('group.join'), ref, group: GroupName }),
  z.object({ type: z.literal('group.leave'), ref, group: GroupName }),
  z.object({ type: z.literal('group.members'), ref, group: GroupName }),
  z.object({ type: z.literal('groups'), ref }),
  HistoryQuery.extend({ type: z.literal('history'), ref, conv: Target }),
  z.object({ type: z.literal('sync'), ref, since: SyncSince }),
  z.object({ type: z.literal('presence.watch'), ref, users: z.array(UserId).max(1000) }),
  z.object({ type: z.literal('typing'), ref, to: Target }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

/** A stored chat message as clients see it. */
export interface ChatMessage {
  id: string;
  conv: string;
  from: string;
  to: Target;
  text: string;
  ts: number;
}

export interface Ack {
  id: string;
  ts: number;
  conv: string;
}

export interface GroupInfo {
  name: string;
  createdBy: string;
  createdAt: number;
}

export type PresenceStatus = 'online' | 'offline';

/** Every frame a node sends. */
export type ServerFrame =
  | { type: 'hello'; protocol: typeof PROTOCOL_VERSION; node: string; user: string; session: string }
  | ({ type: 'ack'; ref?: string } & Ack)
  | ({ type: 'message'; cursor?: string } & ChatMessage)
  | { type: 'group'; ref?: string; group: GroupInfo }
  | { type: 'members'; ref?: string; group: string; members: string[] }
  | { type: 'groups'; ref?: string; groups: string[] }
  | { type: 'history'; ref?: string; messages: ChatMessage[]; more: boolean }
  | { type: 'sync'; ref?: string; messages: ChatMessage[]; next: string | null; cursor: string }
  | { type: 'presence'; ref: string | undefined; users: Record<string, PresenceStatus> }
  | { type: 'presence'; user: string; status: PresenceStatus }
  | { type: 'typing'; from: string; conv: string }
  | { type: 'ok'; ref?: string }
  | { type: 'error'; ref?: string; code: string; message: string }
  | { type: 'drain'; reconnectAfterMs: number };

/** What a send is answered with for `message` (and a retry with its `idem`, for 24 hours). */
export function ackOf(message: ChatMessage): Ack {
  return { id: message.id, ts: message.ts, conv: message.conv };
}

/** `0` (everything) and the oldest possible id are the same cursor. */
export function cursorOf(since: string | 0 | undefined): string | undefined {
  return since === undefined || since === 0 || since === '0' ? undefined : since;
}

/** How much of an unknown `type` an error frame repeats. */
const MAX_ECHOED_TYPE = 64;

/**
 * An unknown `type` as an error names it: a string quoted and cut (a 60 KB type must not come
 * back as a 60 KB error), anything else by its JSON kind only. Stringifying a client's value
 * would echo it whole, and one nested 20,000 deep overflows the stack.
 */
function describeType(type: unknown): string {
  if (typeof type === 'string') return JSON.stringify(type.length > MAX_ECHOED_TYPE ? `${type.slice(0, MAX_ECHOED_TYPE)}…` : type);
  if (type === undefined || type === null) return 'null';
  const kind = Array.isArray(type) ? 'an array' : typeof type === 'object' ? 'an object' : `a ${typeof type}`;
  return `(${kind}, not a string)`;
}

/** Describes the first zod issue, naming the field: "to.user: a user id is ...". */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid frame';
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

/** Parses a value against a schema, throwing `bad_request` that names the bad field. */
export function parseOrBadRequest<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ChatError('bad_request', describeIssue(result.error));
  return result.data;
}

/**
 * Parses one text frame: JSON, an object, a known `type`, valid fields. Every failure is
 * a `bad_request` (with the frame's `ref` when one could be read, so the client can match it).
 */
export function parseClientFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ChatError('bad_request', 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ChatError('bad_request', 'frame is not a JSON object');
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !ClientFrame.options.some((option) => option.shape.type.value === type)) {
    throw new ChatError('bad_request', `unknown frame type ${describeType(type)}`);
  }
  return parseOrBadRequest(ClientFrame, value);
}

/** The `ref` of a raw frame if it has a valid one, for replying to frames that failed to parse. */
export function refOf(text: string): string | undefined {
  try {
    const ref = (JSON.parse(text) as { ref?: unknown }).ref;
    return typeof ref === 'string' && ref.length <= 64 ? ref : undefined;
  } catch {
    return undefined;
  }
}
