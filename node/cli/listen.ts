import { CLOSE_POLICY_VIOLATION } from '../protocol/close-codes.js';
import { reconnectDelay } from '../protocol/reconnect-delay.js';
import type { RecentSet } from '../recent-set.js';
import { ClosedError, describeClosed, RefusedError, ReplyError, UnreachableError, type Closed, type Frame, type Session } from './connection.js';
import { printOnce, syncAll, type KeptCursor } from './sync-walk.js';

export interface ListenDeps {
  /** Opens a socket, pushing every frame but replies (`hello` first); asked again for each reconnect. */
  open: (onPush: (frame: Frame) => void) => Promise<{ connection: Session }>;
  cursor: KeptCursor;
  /** Whether the first socket syncs from the kept cursor too (a cursor file or `--since` was given). */
  syncFirst: boolean;
  printed: RecentSet;
  print: (value: unknown) => void;
  /** A line for the person watching (stderr), never mixed into the frames on stdout. */
  warn: (line: string) => void;
  random: () => number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** Refusals that a retry cannot mend: the request or the token is wrong, not the moment. */
const FINAL_REFUSALS = new Set([400, 401, 403, 404]);
/** Error frames that say "not now" rather than "not this" (PROTOCOL.md: `unavailable` is safe to retry). */
const PASSING_ERRORS = new Set(['unavailable', 'internal']);
/** A socket open this long was a working one: the next loss starts the backoff afresh. */
const STEADY_MS = 10_000;

/**
 * Whether listening should go on after `error`: yes for what time can mend (no answer, a
 * refusal such as a draining node's 503, a socket closed under it, a dependency away), no
 * for what it cannot (a bad token, a bad cursor, a file that cannot be written, a node
 * closing the socket for abuse).
 */
export function worthRetrying(error: unknown): boolean {
  if (error instanceof UnreachableError) return true;
  if (error instanceof RefusedError) return !FINAL_REFUSALS.has(error.status);
  if (error instanceof ClosedError) return error.closed.code !== CLOSE_POLICY_VIOLATION;
  if (error instanceof ReplyError) return PASSING_ERRORS.has(error.code);
  return false;
}

/**
 * Prints every frame for the user until stopped, across sockets: when a node drains it
 * reconnects after the delay the node asked for, and when a socket is lost, with backoff
 * and jitter (the web client's delays). Each socket after the first syncs from the newest
 * cursor held, so nothing sent meanwhile is missed, and each message is printed once. It
 * returns only by failing, with what a retry cannot mend (worthRetrying).
 */
export async function listen(deps: ListenDeps): Promise<never> {
  /** The newest message printed live: where to resume from while the node has given no cursor. */
  let lastLiveId: string | undefined;
  /** Live messages that came during a sync walk, printed after it so that the walk's come first and none twice. */
  let heldBack: Frame[] | undefined;
  const showLive = (frame: Frame): void => {
    printOnce(frame, deps.printed, deps.print);
    if (typeof frame.id === 'string') lastLiveId = frame.id;
    deps.cursor.keep(frame.cursor);
  };
  const releaseHeld = (): void => {
    const held = heldBack ?? [];
    heldBack = undefined;
    for (const frame of held) showLive(frame);
  };
  const onPush = (frame: Frame): void => {
    if (frame.type !== 'message') deps.print(frame);
    else if (heldBack !== undefined) heldBack.push(frame);
    else showLive(frame);
  };
  // Printed as the frames they would have been live, so the stream reads the same either way.
  const printAsFrame = (message: unknown): void => {
    deps.print(Object.assign({ type: 'message' }, message));
  };

  let syncs = deps.syncFirst;
  let attempt = 0;
  for (;;) {
    const openedAt = deps.now();
    let closed: Closed;
    try {
      heldBack = syncs ? [] : undefined;
      const { connection } = await deps.open(onPush);
      closed = await walkThenWait(connection, syncs);
    } catch (error) {
      if (error instanceof ClosedError) {
        closed = error.closed;
      } else {
        if (!worthRetrying(error)) throw error;
        attempt += 1;
        const delay = reconnectDelay(attempt, deps.random());
        deps.warn(`chat: ${(error as Error).message}; trying again in ${delay} ms`);
        await deps.sleep(delay);
        continue;
      }
    } finally {
      releaseHeld();
    }
    const ended = new ClosedError(closed);
    if (!worthRetrying(ended)) throw ended;
    let delay: number;
    if (closed.drainAfterMs !== undefined) {
      attempt = 0;
      delay = closed.drainAfterMs;
      deps.warn(`chat: ${describeClosed(closed)}; reconnecting in ${delay} ms, as the node asked`);
    } else {
      attempt = deps.now() - openedAt >= STEADY_MS ? 1 : attempt + 1;
      delay = reconnectDelay(attempt, deps.random());
      deps.warn(`chat: ${describeClosed(closed)}; reconnecting in ${delay} ms`);
    }
    if (!syncs) syncs = resumeWithoutCursor(deps, lastLiveId);
    await deps.sleep(delay);
  }

  /** The sync walk if asked, then the live frames (through onPush) until the socket closes. */
  async function walkThenWait(connection: Session, walk: boolean): Promise<Closed> {
    if (walk) {
      try {
        deps.cursor.keep(await syncAll(connection, deps.cursor.since(), deps.printed, printAsFrame));
      } catch (error) {
        // This socket is done; the loop decides whether to try again.
        connection.close();
        throw error;
      }
      releaseHeld();
    }
    return connection.closed;
  }
}

/**
 * Where a listener that never synced resumes from: a socket that has not synced gets no
 * cursors (docs/sync-cursor.md), so the last message's id is the next best place
 * (PROTOCOL.md accepts one, without the cursor's guarantee); the walk from it hands out a
 * cursor for every later socket. True when there is somewhere to resume from.
 */
function resumeWithoutCursor(deps: ListenDeps, lastLiveId: string | undefined): boolean {
  if (deps.cursor.known()) return true;
  if (lastLiveId === undefined) {
    deps.warn('chat: no message has come yet, so there is nothing to resume from: what is sent while reconnecting is not shown (--cursor-file or --since syncs from the start)');
    return false;
  }
  deps.warn('chat: resuming from the last message shown, as no cursor was given: a message sent just before it may be missed (--cursor-file keeps a cursor from the start)');
  deps.cursor.keep(lastLiveId);
  return true;
}
