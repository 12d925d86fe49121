import { decodeTime, monotonicFactory } from 'ulid';

/**
 * Message ids are ULIDs: 48 bits of milliseconds then 80 random bits, Crockford base32.
 * They sort in time order as plain strings, and the monotonic generator keeps ids from
 * one node strictly increasing even within one millisecond.
 */
export type MessageIdGenerator = (now: number) => string;

export function messageIdGenerator(): MessageIdGenerator {
  const next = monotonicFactory();
  return (now) => next(now);
}

/** A ULID: 26 characters of Crockford base32. */
export const MESSAGE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function isMessageId(value: string): boolean {
  return MESSAGE_ID.test(value);
}

/** The millisecond timestamp inside a message id. */
export function messageIdTime(id: string): number {
  return decodeTime(id);
}
