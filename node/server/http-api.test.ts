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

/**
 * Alice's HTTP API on one node and bob's socket on another, over one embedded store and bus,
 * with Redis's route reads able to fail as while it is away (`busAway`).
 */
async function sendingToBob(options: { maxBackgroundRoutings?: number } = {}) {
  const store = new MemoryStore();
  const bus = new MemoryBus();
  const log = createLogger('http-api-test', 'silent');
  const limits = { maxTextBytes: 4096, messagesPerSecondPerUser: 100 };
  const node = new ChatNode({ nodeId: 'node-a', address: 'node-a:9090', store, bus, log, limits, heartbeatMs: 60_000, ...options });
  const bobsNode = new ChatNode({ nodeId: 'node-b', address: 'node-b:9090', store, bus, log, limits, heartbeatMs: 60_000 });
  await node.start();
  await bobsNode.start();
  const bob = recordingConnection('bob', 'session-1');
  await bobsNode.connect(bob.connection);
  let away = false;
  const sessionsOf = bus.routes.sessionsOf.bind(bus.routes);
  bus.routes.sessionsOf = (user) => (away ? Promise.reject(new ChatError('unavailable', 'Redis is down')) : sessionsOf(user));
  const verifier: TokenVerifier = { verify: () => Promise.resolve({ user: 'alice', expiresAt: Date.now() + 60_000 }) };
  const app = express();
  app.use('/v1', httpApi(node, verifier, 4096));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    store,
    node,
    bob,
    busAway: (isAway: boolean) => {
      away = isAway;
    },
    post: async (text: string): Promise<{ status: number; body: { id: string; conv: string; code?: string } }> => {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ to: { user: 'bob' }, text }),
        signal: AbortSignal.timeout(3_000),
      });
      return { status: response.status, body: (await response.json()) as { id: string; conv: string; code?: string } };
    },
    close: async () => {
      server.close();
      await Promise.all([node.stop(), bobsNode.stop()]);
    },
  };
}

describe('POST /v1/messages while the bus cannot route', () => {
  it('answers 201 with the ack once the message is stored, and routes it once the bus is back', async () => {
    const api = await sendingToBob();
    try {
      api.busAway(true);
      const { status, body: ack } = await api.post('while Redis is down');
      expect(status).toBe(201);
      expect(await api.store.findMessage(ack.conv, ack.id)).toMatchObject({ text: 'while Redis is down' });
      expect(api.bob.frames).not.toContainEqual(expect.objectContaining({ type: 'message' }));

      api.busAway(false);
      await vi.waitFor(() => {
        expect(api.bob.frames).toContainEqual(expect.objectContaining({ type: 'message', id: ack.id }));
      });
    } finally {
      await api.close();
    }
  });

  it('routes one user’s sends in the order they were acked, a later one waiting for an earlier one that waits for the bus', async () => {
    const api = await sendingToBob();
    try {
      api.busAway(true);
      const first = await api.post('first');
      // The bus is back between the first routing's attempts: the second would go at once.
      api.busAway(false);
      const second = await api.post('second');
      expect([first.status, second.status]).toEqual([201, 201]);
      await vi.waitFor(() => {
        expect(api.bob.frames.filter((frame) => frame.type === 'message')).toHaveLength(2);
      });
      expect(api.bob.frames.flatMap((frame) => (frame.type === 'message' ? [frame.id] : []))).toEqual([first.body.id, second.body.id]);
    } finally {
      await api.close();
    }
  });

  it('refuses sends with unavailable, storing nothing, once as many wait for the bus as the node holds', async () => {
    const api = await sendingToBob({ maxBackgroundRoutings: 2 });
    try {
      api.busAway(true);
      // At once: each takes its place before it is stored, so no more than the limit get in.
      const answers = await Promise.all(['one', 'two', 'three'].map((text) => api.post(text)));
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 201, 503]);
      expect(answers.find((answer) => answer.status === 503)?.body.code).toBe('unavailable');
      expect((await api.store.sync('alice', { limit: 10 })).messages).toHaveLength(2);

      api.busAway(false);
      await vi.waitFor(() => {
        expect(api.bob.frames.filter((frame) => frame.type === 'message')).toHaveLength(2);
      });
      expect((await api.post('three')).status).toBe(201);
    } finally {
      await api.close();
    }
  });
});

describe('POST /v1/messages on a draining node', () => {
  it('is refused with unavailable and nothing is stored: a survivor would otherwise route it once this node is gone', async () => {
    const api = await sendingToBob();
    try {
      await api.node.drain(0);
      expect(await api.post('too late')).toMatchObject({ status: 503, body: { code: 'unavailable' } });
      expect((await api.store.sync('alice', { limit: 10 })).messages).toEqual([]);
    } finally {
      await api.close();
    }
  });
});
