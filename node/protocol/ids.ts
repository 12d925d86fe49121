import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * Message ids are ULIDs: 48 bits of milliseconds then 80 random bits, Crockford base32.
 * They sort in time order as plain strings, and the monotonic generator keeps ids from
 * one node strictly increasing even within one millisecond.
 */
export type MessageIdGenerator = (now: number) => string;

export function messageIdGenerator(): MessageIdGenerator {
  const next = monotonicFactory(pooledRandom());
  return (now) => next(now);
}

/** How many random bytes are drawn from the system at once. */
const RANDOM_POOL_BYTES = 4096;

/**
 * ulid's random source, as ulid wants it (a fraction in [0, 1) per character), served from
 * a pool of crypto-random bytes. ulid's own source asks crypto for one byte per character,
 * 16 calls per id; the pool asks once every 256 ids. Same bytes, same distribution.
 */
function pooledRandom(): () => number {
  const pool = new Uint8Array(RANDOM_POOL_BYTES);
  let used = RANDOM_POOL_BYTES;
  return () => {
    if (used === RANDOM_POOL_BYTES) {
      randomFillSync(pool);
      used = 0;
    }
    return (pool[used++] ?? 0) / 256;
  };
}

/**
 * A ULID: 26 characters of Crockford base32, the first at most 7: the first ten hold 48 bits
 * of milliseconds, and a larger first character is no time. Refused where a client's id is
 * read (frames, cursors, the HTTP API), so none reaches messageIdTime, which throws for it.
 */
export const MESSAGE_ID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export function isMessageId(value: string): boolean {
  return MESSAGE_ID.test(value);
}

const BASE32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Crockford base32 digit values by character code (upper case; -1: not a digit). */
const DIGIT_VALUES = Int8Array.from({ length: 128 }, (_, code) => BASE32.indexOf(String.fromCharCode(code)));

/**
 * The millisecond timestamp inside a message id (its first 10 characters). Decoded here
 * rather than by ulid's decodeTime, which splits, reverses and reduces the string: the
 * store asks twice for every message it writes.
 */
export function messageIdTime(id: string): number {
  if (id.length !== 26) throw new RangeError(`not a message id: ${JSON.stringify(id)}`);
  let time = 0;
  for (let i = 0; i < 10; i++) {
    const digit = DIGIT_VALUES[id.charCodeAt(i)] ?? -1;
    if (digit < 0) throw new RangeError(`not a message id: ${JSON.stringify(id)}`);
    time = time * 32 + digit;
  }
  // 48 bits: a first character above 7 is no ULID.
  if (time > 2 ** 48 - 1) throw new RangeError(`not a message id: ${JSON.stringify(id)}`);
  return time;
}
