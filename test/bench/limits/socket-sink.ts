// A loopback TCP server that reads and discards whatever its connections send: the far end
// of the socket-write limit (socket-writes.ts), in a process of its own as a chat client is.
// It prints the bytes it has read in all ({"received":N}) whenever that changed, at most
// every 50 ms, so the writer knows when every write has been read.
import { createServer } from 'node:net';

const REPORT_MS = 50;
let received = 0;
let reported = 0;

const server = createServer((socket) => {
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the sink has no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
setInterval(() => {
  if (received === reported) return;
  reported = received;
  process.stdout.write(`${JSON.stringify({ received })}\n`);
}, REPORT_MS);
