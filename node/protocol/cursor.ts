import { MESSAGE_ID } from './ids.js';

/**
 * Sync cursors (PROTOCOL.md: `cursor`, `next`, `since`). Opaque to clients; here they are
 * positions in message-id order:
 *
 * - a cursor `c1.<floor>` says "the client holds every message of its own with an id below
 *   `floor`"; `c1.0` says nothing is held. `sync` from it returns every id ≥ floor.
 * - a page token `p1.<floor>.<after>` continues a sync walk: the next page starts after
 *   `after`, and the walk ends by handing out `floor` (fixed when the walk began).
 * - a bare message id (the protocol's older form) means "every id up to this one is held",
 *   with no guarantee; `0` means nothing is held.
 *
 * Why a floor rather than the last id seen: ids are taken when a send is accepted, but
 * messages are stored and routed in another order, so a message with a lower id can still
 * be on its way. The node only hands out floors that no message still in flight is below.
 */
const ULID_CHARS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID = MESSAGE_ID.source.slice(1, -1);
/** The largest id there can be (the last millisecond of 48 bits). */
const LARGEST_ID = `7${'Z'.repeat(25)}`;

/** A cursor or page token as the protocol carries it, for zod. */
export const CURSOR = new RegExp(`^(c1\\.(0|${ULID})|p1\\.(0|${ULID})\\.${ULID})$`);

/** Where a sync starts: `floor` (ids below it are held) and, inside a walk, the id to continue after. */
export interface SyncPosition {
  floor: string | undefined;
  after?: string;
}

/** Reads `since` as the socket and HTTP API accept it: 0, a message id, a cursor or a page token. */
export function parseSince(since: string | 0 | undefined): SyncPosition {
  if (since === undefined || since === 0 || since === '0') return { floor: undefined };
  if (MESSAGE_ID.test(since)) return { floor: successorId(since) };
  const [kind, floor, after] = since.split('.');
  const floorId = floor === '0' ? undefined : floor;
  if (kind === 'p1' && after !== undefined) return { floor: floorId, after };
  return { floor: floorId };
}

/** The cursor a client keeps: every message with an id below `floor` is held. */
export function encodeCursor(floor: string | undefined): string {
  return `c1.${floor ?? '0'}`;
}

/** The `next` of a sync page: continue after `after`, ending the walk at `floor`. */
export function encodePageToken(floor: string | undefined, after: string): string {
  return `p1.${floor ?? '0'}.${after}`;
}

/** The exclusive lower bound a store reads after for a position (undefined: from the start). */
export function readAfter(position: SyncPosition): string | undefined {
  if (position.after !== undefined) return position.after;
  return position.floor === undefined ? undefined : predecessorId(position.floor);
}

/** The smallest id with this millisecond: every id taken at or after `ms` is ≥ it. */
export function idFloorAt(ms: number): string {
  let time = Math.max(0, Math.floor(ms));
  let encoded = '';
  for (let i = 0; i < 10; i++) {
    encoded = (ULID_CHARS[time % 32] ?? '0') + encoded;
    time = Math.floor(time / 32);
  }
  return `${encoded}${'0'.repeat(16)}`;
}

/** The millisecond of an id (its first 10 characters). */
export function idTime(id: string): number {
  let time = 0;
  for (const char of id.slice(0, 10)) time = time * 32 + ULID_CHARS.indexOf(char);
  return time;
}

/** The id just below `id` in sort order. */
export function predecessorId(id: string): string {
  return step(id, -1);
}

/**
 * The id just above `id` in sort order; the largest id for itself, so a cursor made from it
 * stays one the node takes back.
 */
export function successorId(id: string): string {
  return id >= LARGEST_ID ? LARGEST_ID : step(id, 1);
}

/** Adds ±1 to a 26-character Crockford base32 number, clamping at the ends of the range. */
function step(id: string, delta: 1 | -1): string {
  const digits = Array.from(id, (char) => ULID_CHARS.indexOf(char));
  for (let i = digits.length - 1; i >= 0; i--) {
    const digit = (digits[i] ?? 0) + delta;
    if (digit >= 0 && digit < 32) {
      digits[i] = digit;
      return digits.map((value) => ULID_CHARS[value]).join('');
    }
    digits[i] = delta > 0 ? 0 : 31;
  }
  return id;
}

/** The later of two ids (undefined counts as before every id). */
export function laterId(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** The earlier of two ids (undefined counts as before every id). */
export function earlierId(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return undefined;
  return a < b ? a : b;
}
