import { createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy's listening side, on a free loopback port. */
export async function listenOnLoopback(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  return { server, port: address.port };
}

/** Drops every connection and stops listening. */
export async function closeProxy(server: Server, sockets: Iterable<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
}
