/**
 * The benchmark's peer: the least a WebSocket chat relay can do. No authentication (the user
 * is a query parameter), no persistence, no bus: a `send` to a user is acked and written
 * to that user's sockets in the same process. It speaks just enough of the chat protocol
 * (`hello`, `send` → `ack` + `message`) for the same load generator to drive it. Its memory
 * is read through the inspector, as a chat node's is.
 *
 *   node --import tsx test/bench/relay-server.ts     prints {"port":N} once listening on 127.0.0.1
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

const socketsByUser = new Map<string, Set<WebSocket>>();
let sessions = 0;
let messages = 0;

interface SendFrame {
  ref?: string;
  to: { user: string };
  text: string;
}

function asSendFrame(value: unknown): SendFrame | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const frame = value as Record<string, unknown>;
  const to = frame.to as Record<string, unknown> | undefined;
  if (frame.type !== 'send' || typeof frame.text !== 'string' || typeof to?.user !== 'string') return undefined;
  return { to: { user: to.user }, text: frame.text, ...(typeof frame.ref === 'string' ? { ref: frame.ref } : {}) };
}

function conversationOf(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

function relay(socket: WebSocket, user: string, data: RawData): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
  } catch {
    socket.send(JSON.stringify({ type: 'error', code: 'bad_request', message: 'malformed JSON' }));
    return;
  }
  const frame = asSendFrame(parsed);
  if (frame === undefined) {
    socket.send(JSON.stringify({ type: 'error', code: 'bad_request', message: 'only send to a user is relayed' }));
    return;
  }
  const id = String(++messages);
  const ts = Date.now();
  const conv = conversationOf(user, frame.to.user);
  socket.send(JSON.stringify({ type: 'ack', ref: frame.ref, id, ts, conv }));
  const message = JSON.stringify({ type: 'message', id, conv, from: user, to: frame.to, text: frame.text, ts });
  for (const peer of socketsByUser.get(frame.to.user) ?? []) {
    if (peer !== socket && peer.readyState === WebSocket.OPEN) peer.send(message);
  }
}

function serve(socket: WebSocket, user: string): void {
  const sockets = socketsByUser.get(user) ?? new Set<WebSocket>();
  socketsByUser.set(user, sockets);
  sockets.add(socket);
  socket.send(JSON.stringify({ type: 'hello', protocol: 1, node: 'relay', user, session: String(++sessions) }));
  socket.on('message', (data: RawData) => {
    relay(socket, user, data);
  });
  socket.on('error', () => {
    // A broken client socket closes; nothing else to do.
  });
  socket.on('close', () => {
    sockets.delete(socket);
    if (sockets.size === 0) socketsByUser.delete(user);
  });
}

const server = createServer((_request, response) => {
  response.writeHead(404).end();
});
const webSockets = new WebSocketServer({ noServer: true, maxPayload: 65536 });
server.on('upgrade', (request, stream, head) => {
  const url = new URL(request.url ?? '/', 'http://relay');
  const user = url.searchParams.get('user');
  if (url.pathname !== '/ws' || user === null || user === '') {
    stream.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  webSockets.handleUpgrade(request, stream, head, (socket) => {
    serve(socket, user);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
const stop = (): void => {
  for (const socket of webSockets.clients) socket.terminate();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
