import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../protocol/cursor.js';
import type { ClientConnection } from './local-sockets.js';
import { SocketCursors } from './socket-cursors.js';

const socket = (session: string): ClientConnection => ({ user: 'bob', session, send: () => undefined, close: () => undefined });
const [A, B, C] = ['01J0000000000000000000000A', '01J0000000000000000000000B', '01J0000000000000000000000C'];

describe('the cursor of a socket’s live frames', () => {
  it('is absent until the socket completed a sync walk', () => {
    const cursors = new SocketCursors();
    expect(cursors.cursorFor(socket('s1'), C)).toBeUndefined();
  });

  it('is then the later of the walk’s floor and what the node has delivered', () => {
    const cursors = new SocketCursors();
    const connection = socket('s1');
    cursors.synced(connection, B);
    expect(cursors.cursorFor(connection, A)).toBe(encodeCursor(B));
    expect(cursors.cursorFor(connection, C)).toBe(encodeCursor(C));
    expect(cursors.cursorFor(connection, undefined)).toBe(encodeCursor(B));
  });

  it('stops where delivery stood when the bus lost state, until the socket syncs again', () => {
    const cursors = new SocketCursors();
    const [synced, unsynced] = [socket('s1'), socket('s2')];
    cursors.synced(synced, A);
    cursors.capAll([synced, unsynced], B);
    expect(cursors.cursorFor(synced, C)).toBe(encodeCursor(B));
    expect(cursors.cursorFor(unsynced, C)).toBeUndefined();
    cursors.capAll([synced], A);
    expect(cursors.cursorFor(synced, C)).toBe(encodeCursor(A));
    cursors.synced(synced, B);
    expect(cursors.cursorFor(synced, C)).toBe(encodeCursor(C));
  });
});
