import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { RecentSet } from '../recent-set.js';
import type { Connection, Frame } from './connection.js';

/**
 * The cursor a client keeps (PROTOCOL.md: the last `cursor` received, from a `message`
 * frame or the last page of a sync walk): in memory, and in a file between runs when one
 * is named.
 */
export class KeptCursor {
  private current: string | undefined;

  /** `initial`: where to start when told (`--since`), over what the file holds. */
  constructor(
    private readonly file: string | undefined,
    initial?: string,
  ) {
    this.current = initial ?? this.fromFile();
  }

  /** Where a sync starts: the newest cursor kept, else everything (`0`). */
  since(): string {
    return this.current ?? '0';
  }

  /** Whether a cursor is held, so a walk from it returns only what came since. */
  known(): boolean {
    return this.current !== undefined;
  }

  keep(cursor: unknown): void {
    if (typeof cursor !== 'string') return;
    this.current = cursor;
    if (this.file !== undefined) writeFileSync(this.file, `${cursor}\n`);
  }

  private fromFile(): string | undefined {
    if (this.file === undefined || !existsSync(this.file)) return undefined;
    return readFileSync(this.file, 'utf8').trim() || undefined;
  }
}

/** Prints a message unless one with its id was printed already (a sync may repeat the last few before its cursor). */
export function printOnce(message: Frame, printed: RecentSet, print: (value: unknown) => void): void {
  if (printed.add(String(message.id))) print(message);
}

/** Fails the command with the reply's words when it is an `error` frame. */
export function expectReply(frame: Frame): Frame {
  if (frame.type === 'error') throw new Error(`${String(frame.code)}: ${String(frame.message)}`);
  return frame;
}

/** Walks `sync` from `since` to its last page, printing each message once; resolves with the cursor to keep. */
export async function syncAll(connection: Connection, since: string, printed: RecentSet, print: (value: unknown) => void): Promise<string> {
  let from: string | null = since;
  let cursor = since;
  while (from !== null) {
    const page = expectReply(await connection.request({ type: 'sync', since: from }));
    for (const message of page.messages as Frame[]) printOnce(message, printed, print);
    from = page.next as string | null;
    cursor = page.cursor as string;
  }
  return cursor;
}
