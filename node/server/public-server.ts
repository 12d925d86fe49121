import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConfigError } from '../../common/env.js';
import type { Logger } from '../../common/log.js';
import type { Identity, TokenVerifier } from '../auth/tokens.js';
import type { ChatNode } from '../chat/chat-node.js';
import { asChatError, HTTP_STATUS } from '../protocol/errors.js';
import { readCertificatePair, reloadCertificateOnChange, type CertificateFiles } from './certificate-files.js';
import { bearerToken, httpApi } from './http-api.js';
import { OpeningGate, type OpeningLimits } from './opening-gate.js';
import { checkSocketsAlive, serveSocket, type SocketLimits } from './socket.js';
import { webClient } from './web-client.js';

export interface PublicServerOptions {
  node: ChatNode;
  verifier: TokenVerifier;
  log: Logger;
  maxFrameBytes: number;
  socketLimits: SocketLimits;
  socketOpening: OpeningLimits;
  /** How often every socket is pinged; one that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  /** Serve HTTPS and wss:// from these files, re-read every `reloadIntervalMs` (5 s); unset: plain HTTP and ws://. */
  tls?: { files: CertificateFiles; reloadIntervalMs?: number } | undefined;
}

/**
 * The public port: `/ws` (credentials checked before the upgrade: no socket without a
 * valid token), the HTTP API under `/v1`, `/healthz`, `/readyz`, and the web client at `/`.
 * Every socket is pinged each `pingIntervalMs`, and one that did not answer is dropped.
 */
export function createPublicServer(options: PublicServerOptions): Server {
  const { node, verifier, log } = options;
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await node.isReady();
    res.status(ready ? 200 : 503).json({ ready, draining: node.isDraining });
  });
  app.use('/v1', httpApi(node, verifier, options.maxFrameBytes));
  app.use(webClient());

  const server = options.tls === undefined ? createServer(app) : createTlsPublicServer(app, options.tls, log);
  // ws closes a socket whose frame exceeds maxPayload with 1009, as the protocol requires.
  // No client tracking: the node keeps its own sockets (LocalSockets), and ws's Set and
  // close listener would only add memory to every idle socket.
  const sockets = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes, clientTracking: false });
  const serve = socketServer(node, options.socketLimits, log);
  const gate = new OpeningGate(
    // Monotonic: a wall clock set back would keep waiters from ever expiring.
    { ...OPENING_PATIENCE, ...options.socketOpening, clock: () => performance.now() },
    {
      shed: (reason) => {
        node.metrics.opensShed.inc({ reason });
      },
      waiting: (count) => {
        node.metrics.opensWaiting.set(count);
      },
    },
  );
  const openInTurn = (request: IncomingMessage, stream: Duplex, head: Buffer, identity: Identity): void => {
    gate.enter({
      stream,
      open: () => {
        // The node may have begun draining while the upgrade waited.
        if (!node.isDraining) return upgrade(sockets, request, stream, head, serve(identity));
        refuseWhileDraining(stream);
        return Promise.resolve();
      },
      refuse: () => {
        refuseUpgrade(stream, 503, 'unavailable', 'this node has too many sockets opening; retry shortly', BUSY_RETRY_AFTER_SECONDS);
      },
    });
  };
  server.on('upgrade', (request: IncomingMessage, stream: Duplex, head: Buffer) => {
    destroyOnError(stream);
    const url = new URL(request.url ?? '/', 'http://local');
    if (url.pathname !== '/ws') {
      refuseUpgrade(stream, 404, 'not_found', 'WebSocket endpoint is /ws');
      return;
    }
    if (node.isDraining) {
      refuseWhileDraining(stream);
      return;
    }
    const token = bearerToken(request.headers.authorization, url.searchParams);
    if (token === undefined) {
      node.metrics.authFailures.inc();
      refuseUpgrade(stream, 401, 'unauthorized', 'missing credentials: Authorization: Bearer <JWT> or ?token=<JWT>');
      return;
    }
    verifier.verify(token).then(
      (identity) => {
        openInTurn(request, stream, head, identity);
      },
      (error: unknown) => {
        node.metrics.authFailures.inc();
        const chatError = asChatError(error);
        refuseUpgrade(stream, HTTP_STATUS[chatError.code], chatError.code, chatError.message);
      },
    );
  });
  const liveness = setInterval(() => {
    checkSocketsAlive(node.sockets.all());
  }, options.pingIntervalMs);
  liveness.unref();
  server.on('close', () => {
    clearInterval(liveness);
  });
  return server;
}

/**
 * Node removes its own error listener before 'upgrade': a client resetting the connection
 * during the token check must not take the process down. A function of its own, so the
 * listener (which stays for the socket's life) holds the stream alone, not the request.
 */
function destroyOnError(stream: Duplex): void {
  stream.on('error', () => {
    stream.destroy();
  });
}

/**
 * How long an upgrade waits for its turn (OpeningGate). A client that waited 5 s is refused
 * while it still listens (before the usual 10 s hello timeout) and comes back, rather than
 * opened just as it gives up; after 1 s of standing line the newest go first.
 */
const OPENING_PATIENCE = { maxWaitMs: 5_000, congestedAfterMs: 1_000 } as const;
/** What a client refused for too many sockets opening is told to wait before trying again (Retry-After). */
const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Upgrades the connection and serves the socket; settles when its registration ends, or when
 * the connection closes before the upgrade (ws answers a bad handshake itself and closes it).
 */
function upgrade(sockets: WebSocketServer, request: IncomingMessage, stream: Duplex, head: Buffer, serve: (socket: WebSocket) => Promise<boolean>): Promise<unknown> {
  return new Promise((resolve) => {
    stream.once('close', resolve);
    sockets.handleUpgrade(request, stream, head, (socket) => {
      stream.off('close', resolve);
      serve(socket).then(resolve, resolve);
    });
  });
}

/**
 * What serves an upgraded socket for `identity`. Made out here, not inline in the upgrade
 * handler: a callback made there would keep the handler's scope (the request with its
 * headers and token, the upgrade's first bytes) alive for as long as the socket is open.
 */
function socketServer(node: ChatNode, limits: SocketLimits, log: Logger): (identity: Identity) => (socket: WebSocket) => Promise<boolean> {
  return (identity) => (socket) => serveSocket(socket, identity, node, limits, log);
}

function createTlsPublicServer(app: express.Express, tls: NonNullable<PublicServerOptions['tls']>, log: Logger): Server {
  let pair;
  try {
    pair = readCertificatePair(tls.files);
  } catch (error) {
    throw new ConfigError('CHAT_TLS_CERT_FILE', `cannot read the certificate or key: ${(error as Error).message}`);
  }
  let server;
  try {
    server = createTlsServer(pair, app);
  } catch (error) {
    throw new ConfigError('CHAT_TLS_CERT_FILE', `the certificate and key cannot be used together: ${(error as Error).message}`);
  }
  const stop = reloadCertificateOnChange(server, tls.files, pair, log, tls.reloadIntervalMs);
  server.on('close', stop);
  return server;
}

/** A draining node opens no socket; its clients go to another node through the load balancer. */
function refuseWhileDraining(stream: Duplex): void {
  refuseUpgrade(stream, 503, 'unavailable', 'this node is draining; reconnect through the load balancer');
}

/** Answers an upgrade request with a plain HTTP error; no socket is opened. */
function refuseUpgrade(stream: Duplex, status: number, code: string, message: string, retryAfterSeconds?: number): void {
  const body = JSON.stringify({ code, message });
  const reason = { 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  const retryAfter = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  stream.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retryAfter}Connection: close\r\n\r\n${body}`,
  );
}
