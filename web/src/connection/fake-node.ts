/**
 * For unit tests only (never imported by the page): a ChatConnection on sockets the test
 * plays the node for, and a clock the test moves.
 */
import { ChatConnection, type ConnectionEvents, type ConnectionState, type PendingSend, type SocketHandlers } from './chat-connection.js';
import type { ChatMessage, ClientFrame, ServerFrame } from './frames.js';

/** A socket the test plays the node for: it sees what the client writes and says what the node sends. */
export class FakeSocket {
  readonly written: ClientFrame[] = [];
  closed = false;
  constructor(readonly handlers: SocketHandlers) {}
  send(text: string): void {
    this.written.push(JSON.parse(text) as ClientFrame);
  }
  close(): void {
    this.closed = true;
  }
  receive(frame: ServerFrame): void {
    this.handlers.message(JSON.stringify(frame));
  }
  hello(node = 'n1'): void {
    this.receive({ type: 'hello', protocol: 1, node, user: 'alice', session: 's' });
  }
  last(): ClientFrame {
    const frame = this.written.at(-1);
    if (frame === undefined) throw new Error('nothing written');
    return frame;
  }
}

export function message(id: string, text = id): ChatMessage {
  return { id, conv: 'dm:alice:bob', from: 'bob', to: { user: 'alice' }, text, ts: 1 };
}

/** A connection on fake sockets and a fake clock; `advance` runs the timers that are due. */
export function harness(options: { tokenAccepted?: boolean; events?: Partial<ConnectionEvents> } = {}) {
  const sockets: FakeSocket[] = [];
  let now = 0;
  let timers: { at: number; run: () => void }[] = [];
  const received: ChatMessage[] = [];
  const states: ConnectionState[] = [];
  let pending: readonly PendingSend[] = [];
  let idems = 0;
  const connection = new ChatConnection({
    user: 'alice',
    url: 'ws://node/ws?token=t',
    openSocket: (_url, handlers) => {
      const socket = new FakeSocket(handlers);
      sockets.push(socket);
      return socket;
    },
    schedule: (run, ms) => {
      const timer = { at: now + ms, run };
      timers.push(timer);
      return () => {
        timers = timers.filter((candidate) => candidate !== timer);
      };
    },
    random: () => 0.5,
    newIdem: () => `idem-${++idems}`,
    ...(options.tokenAccepted === undefined ? {} : { tokenAccepted: () => Promise.resolve(options.tokenAccepted === true) }),
    events: {
      ...options.events,
      messages: (messages) => {
        received.push(...messages);
        options.events?.messages?.(messages);
      },
      state: (state) => {
        states.push(state);
        options.events?.state?.(state);
      },
      pending: (sends) => {
        pending = sends;
        options.events?.pending?.(sends);
      },
    },
  });
  return {
    connection,
    sockets,
    received,
    states,
    pending: () => pending,
    socket: (): FakeSocket => {
      const socket = sockets.at(-1);
      if (socket === undefined) throw new Error('no socket');
      return socket;
    },
    now: () => now,
    advance(ms: number): void {
      now += ms;
      const due = timers.filter((timer) => timer.at <= now);
      timers = timers.filter((timer) => timer.at > now);
      for (const timer of due) timer.run();
    },
  };
}
