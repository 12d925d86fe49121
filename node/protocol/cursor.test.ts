import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import {
  earlierId,
  encodeCursor,
  encodePageToken,
  idFloorAt,
  idTime,
  laterId,
  parseSince,
  predecessorId,
  readAfter,
  successorId,
} from './cursor.js';
import { HistoryQuery, parseClientFrame, parseOrBadRequest, SyncQuery } from './frames.js';

describe('sync cursors', () => {
  it('the floor of a millisecond sorts below every id of that millisecond and above every id before it', () => {
    // (ulid() reads 0 as "now", so the millisecond before is never 0 here.)
    for (const ms of [2, 1_700_000_000_000, 1_764_000_000_123, 2 ** 48 - 2]) {
      const floor = idFloorAt(ms);
      expect(idTime(floor)).toBe(ms);
      for (let i = 0; i < 50; i++) {
        expect(ulid(ms) >= floor).toBe(true);
        expect(ulid(ms - 1) < floor).toBe(true);
      }
    }
  });

  it('predecessor and successor are the neighbours in sort order, carrying across digits', () => {
    const id = '01JABCDEFGHJKMNPQRSTVWXYZ0';
    expect(predecessorId(id)).toBe('01JABCDEFGHJKMNPQRSTVWXYYZ');
    expect(successorId(predecessorId(id))).toBe(id);
    expect(successorId('01JABCDEFGHJKMNPQRSTVWXYZZ')).toBe('01JABCDEFGHJKMNPQRSTVWXZ00');
    for (let i = 0; i < 100; i++) {
      const random = ulid();
      expect(predecessorId(random) < random).toBe(true);
      expect(successorId(random) > random).toBe(true);
    }
  });

  it('a cursor syncs from its floor inclusive; a message id (the older form) after it; 0 from the start', () => {
    const floor = ulid();
    expect(parseSince(encodeCursor(floor))).toEqual({ floor });
    expect(readAfter(parseSince(encodeCursor(floor)))).toBe(predecessorId(floor));
    expect(readAfter(parseSince(floor))).toBe(floor);
    expect(parseSince(0)).toEqual({ floor: undefined });
    expect(parseSince('0')).toEqual({ floor: undefined });
    expect(parseSince(encodeCursor(undefined))).toEqual({ floor: undefined });
    expect(readAfter(parseSince(0))).toBeUndefined();
  });

  it('a page token continues after its last id and keeps the walk’s floor', () => {
    const floor = ulid(1_000);
    const after = ulid(2_000);
    const position = parseSince(encodePageToken(floor, after));
    expect(position).toEqual({ floor, after });
    expect(readAfter(position)).toBe(after);
    expect(parseSince(encodePageToken(undefined, after))).toEqual({ floor: undefined, after });
  });

  it('the sync frame takes cursors and page tokens and refuses anything else, naming the field', () => {
    const id = ulid();
    for (const since of [encodeCursor(id), encodeCursor(undefined), encodePageToken(id, id), encodePageToken(undefined, id), id, 0, '0']) {
      expect(parseClientFrame(JSON.stringify({ type: 'sync', since }))).toMatchObject({ type: 'sync', since });
    }
    for (const since of ['c1.', 'c1.yesterday', `c2.${id}`, `p1.${id}`, `p1.${id}.0`, `c1.${id}x`]) {
      expect(() => parseClientFrame(JSON.stringify({ type: 'sync', since }))).toThrow(/^since/);
    }
  });

  it('refuses ids past the largest millisecond a ULID holds (first character above 7) as bad_request, in every place an id is taken', () => {
    const past = 'Z'.repeat(26);
    const largest = `7${'Z'.repeat(25)}`;
    for (const frame of [
      { type: 'history', conv: { user: 'bob' }, before: past },
      { type: 'history', conv: { user: 'bob' }, before: `8${'0'.repeat(25)}` },
      { type: 'sync', since: past },
      { type: 'sync', since: encodeCursor(past) },
      { type: 'sync', since: encodePageToken(past, largest) },
      { type: 'sync', since: encodePageToken(undefined, past) },
    ]) {
      expect(() => parseClientFrame(JSON.stringify(frame)), JSON.stringify(frame)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    }
    expect(() => parseOrBadRequest(HistoryQuery, { before: past })).toThrow(expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(/^before/) as unknown }));
    expect(() => parseOrBadRequest(SyncQuery, { since: encodeCursor(past) })).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(parseClientFrame(JSON.stringify({ type: 'history', conv: { user: 'bob' }, before: largest }))).toMatchObject({ before: largest });
  });

  it('syncing from the largest id hands out a cursor the node takes back', () => {
    const largest = `7${'Z'.repeat(25)}`;
    expect(successorId(largest)).toBe(largest);
    const cursor = encodeCursor(parseSince(largest).floor);
    expect(parseClientFrame(JSON.stringify({ type: 'sync', since: cursor }))).toMatchObject({ since: cursor });
  });

  it('later and earlier treat "no id" as before every id', () => {
    expect(laterId(undefined, 'A')).toBe('A');
    expect(laterId('B', 'A')).toBe('B');
    expect(earlierId(undefined, 'A')).toBeUndefined();
    expect(earlierId('B', 'A')).toBe('A');
  });
});
