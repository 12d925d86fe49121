import { describe, expect, it } from 'vitest';
import { RecentSet } from '../recent-set.js';
import { ClosedError, RefusedError, ReplyError, UnreachableError, type Closed, type Frame, type Session } from './connection.js';
import { listen, worthRetrying, type ListenDeps } from './listen.js';
import { KeptCursor } from './sync-walk.js';

/** A socket the test drives: it answers requests with `answer` and closes when told. */
class ScriptedSession implements Session {
  readonly requests: Record<string, unknown>[] = [];
  readonly closed: Promise<Closed>;
  private end: (closed: Closed) => void = () => undefined;

  constructor(private readonly answer: (frame: Record<string, unknown>) => Frame = () => ({ type: 'error', code: 'internal', message: 'unexpected' })) {
    this.closed = new Promise((resolve) => {
      this.end = resolve;
    });
  }

  request(frame: Record<string, unknown>): Promise<Frame> {
    this.requests.push(frame);
    return Promise.resolve(this.answer(frame));
  }

  close(): void {
    this.drop({ code: 1000, reason: '', drainAfterMs: undefined });
  }

  drop(closed: Closed): void {
    this.end(closed);
  }
}

const hello = (node: string): Frame => ({ type: 'hello', protocol: 1, node, user: 'bob', session: `s-${node}` });
const message = (id: string, cursor?: string): Frame => ({ type: 'message', id, conv: 'dm:alice:bob', from: 'alice', to: { user: 'bob' }, text: id, ts: 1, ...(cursor === undefined ? {} : { cursor }) });
const page = (ids: string[], cursor: string): Frame => ({ type: 'sync', messages: ids.map((id) => ({ id, conv: 'dm:alice:bob', from: 'alice', text: id, ts: 1 })), next: null, cursor });
const END = new RefusedError(401, 'unauthorized: the test is over');

/** Each socket's script in turn: what it pushes and how it ends; after the last, a final refusal ends listen. */
type Step = (onPush: (frame: Frame) => void) => { connection: Session };

const LOST: Closed = { code: 1006, reason: '', drainAfterMs: undefined };

/**
 * A socket on `node` that pushes hello and `frames`, then closes with `closes`: at once, or
 * (`later`) after the walk it answers has run.
 */
function socketOn(node: string, options: { session?: ScriptedSession; frames?: Frame[]; closes?: Closed; later?: boolean } = {}): Step {
  return (onPush) => {
    const session = options.session ?? new ScriptedSession();
    onPush(hello(node));
    for (const frame of options.frames ?? []) onPush(frame);
    const { closes } = options;
    if (closes !== undefined && options.later === true) {
      queueMicrotask(() => {
        session.drop(closes);
      });
    } else if (closes !== undefined) {
      session.drop(closes);
    }
    return { connection: session };
  };
}

function harness(steps: Step[], options: { syncFirst?: boolean; cursor?: string; random?: number; steadyAfterOpen?: boolean } = {}) {
  const printed: unknown[] = [];
  const warnings: string[] = [];
  const sleeps: number[] = [];
  let clock = 0;
  let opened = 0;
  const deps: ListenDeps = {
    open: (onPush) => {
      const step = steps[opened++];
      if (step === undefined) return Promise.reject(END);
      if (options.steadyAfterOpen === true) clock += 60_000;
      // A step that throws is a socket that could not be opened.
      return new Promise((resolve) => {
        resolve(step(onPush));
      });
    },
    cursor: new KeptCursor(undefined, options.cursor),
    syncFirst: options.syncFirst ?? false,
    printed: new RecentSet(100),
    print: (value) => printed.push(value),
    warn: (line) => warnings.push(line),
    random: () => options.random ?? 1,
    now: () => clock,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  };
  const ids = (): unknown[] => printed.filter((frame) => (frame as Frame).type === 'message').map((frame) => (frame as Frame).id);
  return { deps, printed, warnings, sleeps, ids };
}

describe('worthRetrying', () => {
  it('retries what time can mend and nothing else', () => {
    expect(worthRetrying(new UnreachableError('connect ECONNREFUSED'))).toBe(true);
    expect(worthRetrying(new RefusedError(503, 'unavailable: draining'))).toBe(true);
    expect(worthRetrying(new ClosedError({ code: 1006, reason: '', drainAfterMs: undefined }))).toBe(true);
    expect(worthRetrying(new ClosedError({ code: 1013, reason: 'unavailable', drainAfterMs: undefined }))).toBe(true);
    expect(worthRetrying(new ReplyError('unavailable', 'Cassandra is away'))).toBe(true);
    expect(worthRetrying(new RefusedError(401, 'unauthorized: invalid token'))).toBe(false);
    expect(worthRetrying(new RefusedError(404, 'not_found'))).toBe(false);
    expect(worthRetrying(new ClosedError({ code: 1008, reason: 'abuse', drainAfterMs: undefined }))).toBe(false);
    expect(worthRetrying(new ReplyError('bad_request', 'since: not a cursor'))).toBe(false);
    expect(worthRetrying(new Error('EACCES: cannot write the cursor file'))).toBe(false);
  });
});

describe('listen', () => {
  it('after a drain, waits the delay the node asked for and syncs from the cursor a live message brought, printing each message once', async () => {
    const second = new ScriptedSession(() => page(['m1', 'm2'], 'c2'));
    const { deps, sleeps, ids, printed } = harness([
      socketOn('a', { frames: [message('m1', 'c1')], closes: { code: 1001, reason: 'node draining', drainAfterMs: 500 } }),
      socketOn('b', { session: second, closes: LOST, later: true }),
    ]);
    await expect(listen(deps)).rejects.toBe(END);
    expect(sleeps[0]).toBe(500);
    expect(second.requests).toEqual([{ type: 'sync', since: 'c1' }]);
    expect(ids()).toEqual(['m1', 'm2']);
    expect(printed.filter((frame) => (frame as Frame).type === 'hello')).toHaveLength(2);
    expect(deps.cursor.since()).toBe('c2');
  });

  it('backs off on repeated failures, and starts afresh after a socket that stayed up', async () => {
    const unreachable: Step = () => {
      throw new UnreachableError('connect ECONNREFUSED');
    };
    const { deps, sleeps, warnings } = harness([unreachable, unreachable, unreachable]);
    await expect(listen(deps)).rejects.toBe(END);
    // random 1 takes the top of each window: 500, 1000, 2000 ms (node/protocol/reconnect-delay.ts).
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(warnings[0]).toMatch(/cannot reach|ECONNREFUSED/);

    const steady = harness([unreachable, unreachable, socketOn('a', { closes: LOST, later: true })], { steadyAfterOpen: true });
    await expect(listen(steady.deps)).rejects.toBe(END);
    expect(steady.sleeps).toEqual([500, 1000, 500]);
  });

  it('stops at once on what a retry cannot mend', async () => {
    const { deps, sleeps } = harness([
      () => {
        throw new RefusedError(401, 'unauthorized: invalid token');
      },
    ]);
    await expect(listen(deps)).rejects.toThrow('HTTP 401');
    expect(sleeps).toEqual([]);
    const abuse = harness([socketOn('a', { closes: { code: 1008, reason: 'too many bad frames', drainAfterMs: undefined } })]);
    await expect(listen(abuse.deps)).rejects.toThrow('1008');
  });

  it('without a cursor, resumes from the last message shown, and says so; with nothing shown, says what it cannot resume', async () => {
    const resumed = new ScriptedSession(() => page(['m7', 'm8'], 'c8'));
    const { deps, warnings, ids } = harness([
      // A socket that never synced gets no cursors.
      socketOn('a', { frames: [message('m7')], closes: LOST }),
      socketOn('b', { session: resumed, closes: LOST, later: true }),
    ]);
    await expect(listen(deps)).rejects.toBe(END);
    expect(resumed.requests).toEqual([{ type: 'sync', since: 'm7' }]);
    expect(ids()).toEqual(['m7', 'm8']);
    expect(warnings.join('\n')).toContain('resuming from the last message shown');

    const nothing = harness([socketOn('a', { closes: LOST })]);
    await expect(listen(nothing.deps)).rejects.toBe(END);
    expect(nothing.warnings.join('\n')).toContain('nothing to resume from');
  });

  it('holds live messages that come during a walk and prints them after it, once', async () => {
    let push: (frame: Frame) => void = () => undefined;
    const session = new ScriptedSession(() => {
      // Live frames in the middle of the walk: one the page also has, one it does not.
      push(message('m2'));
      push(message('m3'));
      queueMicrotask(() => {
        session.drop(LOST);
      });
      return page(['m1', 'm2'], 'c2');
    });
    const { deps, ids } = harness(
      [
        (onPush) => {
          push = onPush;
          onPush(hello('a'));
          return { connection: session };
        },
      ],
      { syncFirst: true, cursor: 'c0' },
    );
    await expect(listen(deps)).rejects.toBe(END);
    expect(session.requests).toEqual([{ type: 'sync', since: 'c0' }]);
    expect(ids()).toEqual(['m1', 'm2', 'm3']);
  });

  it('takes a drain that closes the socket during its walk as a drain', async () => {
    const session = new ScriptedSession();
    session.request = () => Promise.reject(new ClosedError({ code: 1001, reason: 'node draining', drainAfterMs: 750 }));
    const { deps, sleeps } = harness([socketOn('a', { session })], { syncFirst: true });
    await expect(listen(deps)).rejects.toBe(END);
    expect(sleeps).toEqual([750]);
  });
});
