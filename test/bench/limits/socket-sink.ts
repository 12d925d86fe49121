// A loopback TCP server that reads and discards whatever its connections send: the far end
// of the socket-write limit (socket-writes.ts), in a process of its own as a chat client is.
import { createServer } from 'node:net';

const server = createServer((socket) => {
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the sink has no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
