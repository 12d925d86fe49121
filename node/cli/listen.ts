import { CLOSE_POLICY_VIOLATION } from '../protocol/close-codes.js';
import { reconnectDelay } from '../protocol/reconnect-delay.js';
import type { RecentSet } from '../recent-set.js';
import { ClosedError, describeClosed, RefusedError, type Closed, type Connection, type Frame } from './connection.js';
import { printOnce, syncAll, type KeptCursor } from './sync-walk.js';

export interface ListenDeps {
  /** Opens a socket; asked again for each reconnect, so a token minted per socket never goes stale. */
  open: (onPush: (frame: Frame) => void) => Promise<{ connection: Connection; hello: Frame }>;
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
/** A socket open this long was a working one: the next loss starts the backoff afresh. */
const STEADY_MS = 10_000;

/**
 * Prints every frame for the user until stopped, across sockets: when a node drains it
 * reconnects after the delay the node asked for, and when a socket is lost, with backoff
 * and jitter (the web client's delays). Each socket after the first syncs from the newest
 * cursor held, so nothing sent meanwhile is missed, and each message is printed once. It
 * returns only by failing: a refusal a retry cannot mend, or a node closing the socket for
 * abuse.
 */
export async function listen(deps: ListenDeps): Promise<never> {
  /** The newest message printed live: where to resume from while the node has given no cursor. */
  let lastLiveId: string | undefined;
  const onPush = (frame: Frame): void => {
    if (frame.type !== 'message') {
      deps.print(frame);
      return;
    }
    printOnce(frame, deps.printed, deps.print);
    if (typeof frame.id === 'string') lastLiveId = frame.id;
    deps.cursor.keep(frame.cursor);
  };
  let syncs = deps.syncFirst;
  let attempt = 0;
  for (;;) {
    let closed: Closed;
    const openedAt = deps.now();
    try {
      closed = await oneSocket(deps, onPush, syncs);
    } catch (error) {
      if (error instanceof RefusedError && FINAL_REFUSALS.has(error.status)) throw error;
      if (error instanceof ClosedError && error.closed.code === CLOSE_POLICY_VIOLATION) throw error;
      attempt += 1;
      const delay = reconnectDelay(attempt, deps.random());
      deps.warn(`chat: ${(error as Error).message}; trying again in ${delay} ms`);
      await deps.sleep(delay);
      continue;
    }
    if (closed.code === CLOSE_POLICY_VIOLATION) throw new ClosedError(closed);
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
    if (!syncs) {
      // A socket that never synced gets no cursors (docs/sync-cursor.md); the last message's
      // id is the next best place to resume from (PROTOCOL.md accepts one, without the
      // cursor's guarantee), and the walk from it hands out a cursor for every later socket.
      if (!deps.cursor.known() && lastLiveId !== undefined) deps.cursor.keep(lastLiveId);
      syncs = deps.cursor.known();
      if (!syncs) deps.warn('chat: no message has come yet, so there is nothing to resume from: what is sent while reconnecting is not shown (--cursor-file or --since syncs from the start)');
    }
    await deps.sleep(delay);
  }
}

/** One socket's life: hello printed, the sync walk if asked, then the frames until it closes. */
async function oneSocket(deps: ListenDeps, onPush: (frame: Frame) => void, syncs: boolean): Promise<Closed> {
  const { connection, hello } = await deps.open(onPush);
  deps.print(hello);
  try {
    // Printed as the frames they would have been live, so the stream reads the same either way.
    const printAsFrame = (message: unknown): void => {
      deps.print(Object.assign({ type: 'message' }, message));
    };
    if (syncs) deps.cursor.keep(await syncAll(connection, deps.cursor.since(), deps.printed, printAsFrame));
  } catch (error) {
    // A walk refused (a dependency is away) or cut off: this socket is done, the loop tries again.
    connection.close();
    throw error;
  }
  return connection.closed;
}
