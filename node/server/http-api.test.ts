import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../common/log.js';
import { recordingConnection } from '../../test/support/recording-connection.js';
import type { TokenVerifier } from '../auth/tokens.js';
import { MemoryBus } from '../bus/memory/bus.js';
import { ChatNode } from '../chat/chat-node.js';
import { ChatError } from '../protocol/errors.js';
import { MemoryStore } from '../store/memory-store.js';
import { httpApi, httpErrorOf } from './http-api.js';

describe('httpErrorOf', () => {
  it('maps body-parser and router errors to protocol codes, client mistakes never to internal', () => {
    const bodyParser = (type: string, status: number): Error => Object.assign(new Error('x'), { type, status });
    expect(httpErrorOf(bodyParser('entity.too.large', 413)).code).toBe('too_large');
    expect(httpErrorOf(bodyParser('entity.parse.failed', 400)).code).toBe('bad_request');
    expect(httpErrorOf(bodyParser('charset.unsupported', 415)).code).toBe('bad_request');
    expect(httpErrorOf(bodyParser('encoding.unsupported', 415)).code).toBe('bad_request');
    // A gzip body that does not inflate: zlib's error, marked 400 by body-parser.
    expect(httpErrorOf(Object.assign(new Error('incorrect header check'), { status: 400 })).code).toBe('bad_request');
    // A path parameter like %E0%A4%A: the router's URIError with status 400; its message echoes the path, ours does not.
    const undecodable = httpErrorOf(Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), { status: 400 }));
    expect(undecodable).toMatchObject({ code: 'bad_request', message: 'the path is not valid percent-encoding' });
  });

  it('keeps ChatErrors and makes anything else internal', () => {
    const forbidden = new ChatError('forbidden', 'no');
    expect(httpErrorOf(forbidden)).toBe(forbidden);
    expect(httpErrorOf(new TypeError('boom')).code).toBe('internal');
    expect(httpErrorOf(Object.assign(new Error('server side'), { status: 503 })).code).toBe('internal');
    expect(httpErrorOf(null).code).toBe('internal');
  });
});

describe('the HTTP API router', () => {
  let baseUrl = '';
  let server: ReturnType<express.Express['listen']> | undefined;

  beforeAll(async () => {
    // Only what the router touches before an operation runs: these requests never reach one.
    const node = {
      operations: {},
      metrics: { authFailures: { inc: () => undefined }, errors: { inc: () => undefined } },
    } as unknown as ChatNode;
    const verifier: TokenVerifier = { verify: () => Promise.resolve({ user: 'alice', expiresAt: Date.now() + 60_000 }) };
    const app = express();
    app.use('/v1', httpApi(node, verifier, 1024));
    app.use((_req, res) => {
      res.status(404).type('html').send('<!DOCTYPE html>not the API');
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.close();
  });

  async function answer(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: 'Bearer t', ...init.headers } });
    return { status: response.status, body: await response.json().catch(() => 'not JSON') };
  }

  it('answers an unknown path or method under /v1 with 404 {code: not_found}, not the web client’s page', async () => {
    for (const [path, method] of [['/v1/nothing', 'GET'], ['/v1/groups/a/b/c', 'GET'], ['/v1/messages', 'PUT'], ['/v1/', 'GET']] as const) {
      expect(await answer(path, { method }), `${method} ${path}`).toEqual({
        status: 404,
        body: { code: 'not_found', message: 'no such method and path in the HTTP API' },
      });
    }
  });

  it('answers a body in another charset or encoding with 400 bad_request, not 500', async () => {
    const body = '{"to":{"user":"bob"},"text":"hi"}';
    const variants: Record<string, string>[] = [
      { 'content-type': 'application/json; charset=latin1' },
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      { 'content-type': 'application/json', 'content-encoding': 'br2' },
    ];
    for (const headers of variants) {
      const { status, body: error } = await answer('/v1/messages', { method: 'POST', headers, body });
      expect(status, JSON.stringify(headers)).toBe(400);
      expect(error).toMatchObject({ code: 'bad_request' });
    }
  });

  it('answers a group name that is not valid percent-encoding with 400 bad_request, not 500', async () => {
    for (const name of ['%E0%A4%A', '%', '%zz', '%C0%AE%C0%AE']) {
      expect(await answer(`/v1/groups/${name}/members`), name).toEqual({
        status: 400,
        body: { code: 'bad_request', message: expect.any(String) as unknown },
      });
    }
  });
});

describe('POST /v1/messages while the bus cannot route', () => {
  it('answers 201 with the ack once the message is stored, and routes it once the bus is back', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const [node, bobsNode] = ['node-a', 'node-b'].map(
      (id) => new ChatNode({ nodeId: id, address: `${id}:9090`, store, bus, log: createLogger('http-api-test', 'silent'), limits: { maxTextBytes: 4096, messagesPerSecondPerUser: 100 }, heartbeatMs: 60_000 }),
    ) as [ChatNode, ChatNode];
    await node.start();
    await bobsNode.start();
    const bob = recordingConnection('bob', 'session-1');
    await bobsNode.connect(bob.connection);
    // Redis is away: the recipient's routes cannot be read, so routing retries until they can.
    const sessionsOf = bus.routes.sessionsOf.bind(bus.routes);
    bus.routes.sessionsOf = () => Promise.reject(new ChatError('unavailable', 'Redis is down'));
    const verifier: TokenVerifier = { verify: () => Promise.resolve({ user: 'alice', expiresAt: Date.now() + 60_000 }) };
    const app = express();
    app.use('/v1', httpApi(node, verifier, 4096));
    const server = app.listen(0, '127.0.0.1');
    try {
      await once(server, 'listening');
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ to: { user: 'bob' }, text: 'while Redis is down' }),
        signal: AbortSignal.timeout(3_000),
      });
      expect(response.status).toBe(201);
      const ack = (await response.json()) as { id: string; conv: string };
      expect(await store.findMessage(ack.conv, ack.id)).toMatchObject({ text: 'while Redis is down' });
      expect(bob.frames).not.toContainEqual(expect.objectContaining({ type: 'message' }));

      bus.routes.sessionsOf = sessionsOf;
      await vi.waitFor(() => {
        expect(bob.frames).toContainEqual(expect.objectContaining({ type: 'message', id: ack.id }));
      });
    } finally {
      server.close();
      await Promise.all([node.stop(), bobsNode.stop()]);
    }
  });
});
