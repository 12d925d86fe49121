import type { SocketHandlers, SocketLike } from './chat-connection.js';

/** A browser WebSocket behind the connection's narrow socket interface. */
export function openBrowserSocket(url: string, handlers: SocketHandlers): SocketLike {
  const socket = new WebSocket(url);
  socket.addEventListener('open', () => {
    handlers.open();
  });
  socket.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (typeof event.data === 'string') handlers.message(event.data);
  });
  socket.addEventListener('close', (event) => {
    handlers.close(event.code);
  });
  return {
    send: (text) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(text);
    },
    close: (code) => {
      socket.close(code);
    },
  };
}

/** The same-origin socket address for a token: `wss://<this host>/ws?token=…`. */
export function socketUrl(location: Location, token: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}

/** Whether the node accepts the token, asked over HTTP (a refused upgrade shows no status to a page). */
export async function tokenAccepted(token: string): Promise<boolean> {
  const response = await fetch('/v1/groups', { headers: { authorization: `Bearer ${token}` } });
  return response.status !== 401;
}
