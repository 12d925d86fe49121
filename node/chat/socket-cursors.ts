import { earlierId, encodeCursor, laterId } from '../protocol/cursor.js';
import type { ClientConnection } from './local-sockets.js';

interface SocketCursor {
  /** The floor of this socket's last completed `sync`. */
  synced: string | undefined;
  /** Set when the bus lost state: live delivery may have missed something since, up to here only. */
  capped: boolean;
  cap: string | undefined;
}

/**
 * The cursor each socket's live `message` frames carry. A socket earns one by completing a
 * `sync`: until then the node does not know what the client holds, and a floor passed on a
 * live frame could skip what the client has not synced yet (it gets no cursor, and keeps the
 * one it had). After that, a frame carries the later of the sync's floor and the node's
 * delivered floor: every message below it reached this socket, live or through the sync.
 */
export class SocketCursors {
  private readonly cursors = new WeakMap<ClientConnection, SocketCursor>();

  /** The socket completed a sync walk that ended at `floor`. */
  synced(connection: ClientConnection, floor: string | undefined): void {
    this.cursors.set(connection, { synced: floor, capped: false, cap: undefined });
  }

  /** Live delivery may have lost messages: no socket's cursor passes `delivered` until it syncs again. */
  capAll(connections: Iterable<ClientConnection>, delivered: string | undefined): void {
    for (const connection of connections) {
      const cursor = this.cursors.get(connection);
      if (cursor === undefined) continue;
      cursor.cap = cursor.capped ? earlierId(cursor.cap, delivered) : delivered;
      cursor.capped = true;
    }
  }

  /** The cursor for a live frame to `connection` now, or undefined before its first sync. */
  cursorFor(connection: ClientConnection, delivered: string | undefined): string | undefined {
    const cursor = this.cursors.get(connection);
    if (cursor === undefined) return undefined;
    const reached = cursor.capped ? earlierId(delivered, cursor.cap) : delivered;
    return encodeCursor(laterId(cursor.synced, reached));
  }
}
