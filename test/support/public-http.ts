import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Agent, fetch as undiciFetch } from 'undici';

/** What the tests read of an HTTP answer. */
export interface PublicResponse {
  status: number;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export type PublicFetch = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<PublicResponse>;

/**
 * `fetch` for a node's public port: plain, or over TLS trusting `ca` (a CA of the test's
 * own, which Node's fetch cannot be given per request).
 */
export function publicFetch(ca: string | undefined): PublicFetch {
  if (ca === undefined) return (url, init) => fetch(url, init);
  const dispatcher = new Agent({ connect: { ca } });
  return (url, init) => undiciFetch(url, { ...init, dispatcher });
}

/** The HTTP status a WebSocket upgrade request gets (101 when accepted); https:// URLs trust `ca`. */
export function upgradeStatus(url: string, token?: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64'),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    };
    const request = url.startsWith('https:') ? httpsRequest(url, { headers, ...(ca === undefined ? {} : { ca }) }) : httpRequest(url, { headers });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve(101);
    });
    request.on('error', reject);
    request.end();
  });
}
