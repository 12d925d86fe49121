import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { RecentSet } from '../recent-set.js';
import { expectReply, type Frame, type Session } from './connection.js';

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
    if (this.file === undefined) return;
    // Written aside and renamed over: a run stopped mid-write leaves the old cursor, never an empty file.
    const aside = `${this.file}.${process.pid}.tmp`;
    writeFileSync(aside, `${cursor}\n`);
    renameSync(aside, this.file);
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

interface SyncPage {
  messages: Frame[];
  next: string | null;
  cursor: string;
}

/** A `sync` reply as PROTOCOL.md has it, or an error that says what came instead. */
function syncPage(frame: Frame): SyncPage {
  const { messages, next, cursor } = expectReply(frame);
  if (frame.type !== 'sync' || !Array.isArray(messages) || (next !== null && typeof next !== 'string') || typeof cursor !== 'string') {
    throw new Error(`the node answered sync with something else: ${JSON.stringify(frame).slice(0, 200)}`);
  }
  return { messages: messages as Frame[], next, cursor };
}

/** Walks `sync` from `since` to its last page, printing each message once; resolves with the cursor to keep. */
export async function syncAll(session: Session, since: string, printed: RecentSet, print: (value: unknown) => void): Promise<string> {
  let from: string | null = since;
  let cursor = since;
  while (from !== null) {
    const page = syncPage(await session.request({ type: 'sync', since: from }));
    for (const message of page.messages) printOnce(message, printed, print);
    from = page.next;
    cursor = page.cursor;
  }
  return cursor;
}
