/**
 * The Socket.IO peer: what a user would write to get direct messages across several
 * Socket.IO servers. Each socket joins a room named after its user; a `send` is emitted to
 * the recipient's room (the Redis Streams adapter carries it to the other servers) and
 * acknowledged. Nothing is stored and nobody is authenticated: the user is the handshake's
 * `auth.user`. WebSocket transport only, so no sticky sessions are needed.
 *
 * With BENCH_SOCKET_IO_RECOVERY=1 (the reconnect storm), connection state recovery is on, as
 * Socket.IO's guide has it: the adapter keeps a disconnected socket's session (its rooms)
 * in Redis, and a client presenting its session id and last offset gets the packets it
 * missed from the stream. The guide's caveat is followed too: a client has an offset only
 * once an event reached it, so a fresh socket is sent `ready` first.
 *
 *   BENCH_REDIS_URL=redis://127.0.0.1:6379 BENCH_REDIS_STREAM=bench:socket.io \
 *     node --import tsx test/bench/peers/socket-io-server.ts     prints {"port":N} once listening on 127.0.0.1
 *
 * SIGTERM closes it as a user would drain it: every socket is closed, its session kept when
 * recovery is on, and the process exits once Redis has those sessions.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
// The adapter is written for ioredis 5 (or node-redis), pinned beside the project's own ioredis.
import { Redis } from 'ioredis-5';
import { Server } from 'socket.io';

interface Settings {
  redisUrl: string;
  /** The adapter's stream, and prefix of its pub/sub channels and session keys: this run's own keys in a shared Redis. */
  stream: string;
  recovery: boolean;
}

function settingsFrom(env: NodeJS.ProcessEnv): Settings {
  const redisUrl = env.BENCH_REDIS_URL;
  const stream = env.BENCH_REDIS_STREAM;
  if (redisUrl === undefined || stream === undefined) throw new Error('BENCH_REDIS_URL and BENCH_REDIS_STREAM must be set');
  return { redisUrl, stream, recovery: env.BENCH_SOCKET_IO_RECOVERY === '1' };
}

/** A message as the load generator emits it: `to` is a room (a user's, or a group's). */
interface SendEvent {
  to: string;
  text: string;
  exceptSender: boolean;
}

function asSendEvent(value: unknown): SendEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { to, text, exceptSender } = value as Record<string, unknown>;
  return typeof to === 'string' && typeof text === 'string' ? { to, text, exceptSender: exceptSender === true } : undefined;
}

function roomOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { room } = value as Record<string, unknown>;
  return typeof room === 'string' && room !== '' ? room : undefined;
}

const settings = settingsFrom(process.env);
const redis = new Redis(settings.redisUrl);
redis.on('error', () => {
  // ioredis reconnects by itself; the adapter's reads fail meanwhile and are retried.
});
const http = createServer((_request, response) => {
  response.writeHead(404).end();
});
const io = new Server(http, {
  // The adapter's defaults otherwise (one stream, MAXLEN ~10000, XREAD COUNT 100 BLOCK 5000), as a user gets them.
  adapter: createAdapter(redis, { streamName: settings.stream, channelPrefix: settings.stream, sessionKeyPrefix: `${settings.stream}:session:` }),
  // The guide's defaults: sessions kept 2 minutes, middlewares skipped on a recovered connect.
  ...(settings.recovery ? { connectionStateRecovery: {} } : {}),
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
});

io.on('connection', (socket) => {
  const { user } = socket.handshake.auth as { user?: unknown };
  if (typeof user !== 'string' || user === '') {
    socket.disconnect(true);
    return;
  }
  // A recovered socket is back in its rooms already.
  if (!socket.recovered) void socket.join(user);
  if (settings.recovery && !socket.recovered) socket.emit('ready');
  /** Answers `event` with `{ ok: true }` once `act` ran on its parsed payload, or `bad_request` when it does not parse. */
  const answer = <T>(event: string, parse: (payload: unknown) => T | undefined, act: (request: T) => void): void => {
    socket.on(event, (payload: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (answer: unknown) => void) : () => undefined;
      const request = parse(payload);
      if (request === undefined) {
        reply({ error: 'bad_request' });
        return;
      }
      act(request);
      reply({ ok: true });
    });
  };
  answer('join', roomOf, (room) => void socket.join(room));
  answer('send', asSendEvent, (message) => {
    (message.exceptSender ? socket.to(message.to) : io.to(message.to)).emit('message', { from: user, text: message.text, ts: Date.now() });
  });
});

http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('the Socket.IO server has no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
/** Closes every socket (keeping their sessions, with recovery on), then exits once Redis has taken every command queued. */
const stop = async (): Promise<void> => {
  await io.close();
  await redis.quit();
  process.exit(0);
};
let stopping = false;
const stopOnce = (): void => {
  // A second signal while stopping exits at once, as does a Redis that will not answer.
  if (stopping) process.exit(1);
  stopping = true;
  setTimeout(() => process.exit(1), 30_000).unref();
  stop().catch(() => process.exit(1));
};
process.on('SIGTERM', stopOnce);
process.on('SIGINT', stopOnce);
