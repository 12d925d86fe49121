import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type GenerateKeyPairResult } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../support/chat-client.js';
import { startNode, stopNode, type NodeProcess } from '../../dev/node-processes.js';

/**
 * A node that checks tokens against a JWKS (RS256/ES256), as with an external identity
 * provider: tokens signed by the provider's keys get in, nothing else does.
 */
describe('tokens checked against a JWKS', () => {
  let jwks: Server;
  let node: NodeProcess;
  let es256: GenerateKeyPairResult;
  let rs256: GenerateKeyPairResult;

  beforeAll(async () => {
    es256 = await generateKeyPair('ES256');
    rs256 = await generateKeyPair('RS256');
    const keys = [
      { ...(await exportJWK(es256.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rs256.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' },
    ];
    jwks = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys }));
    });
    jwks.listen(0, '127.0.0.1');
    await once(jwks, 'listening');
    const address = jwks.address();
    if (address === null || typeof address === 'string') throw new Error('no JWKS address');
    const env: NodeJS.ProcessEnv = { ...process.env, CHAT_JWT_JWKS_URL: `http://127.0.0.1:${address.port}/jwks.json` };
    delete env.CHAT_JWT_SECRET;
    delete env.CHAT_REDIS_URL;
    delete env.CHAT_CASSANDRA_CONTACT_POINTS;
    node = await startNode(env);
  });
  afterAll(async () => {
    await stopNode(node);
    jwks.close();
  });

  const sign = (alg: string, kid: string, key: GenerateKeyPairResult['privateKey'] | Uint8Array, sub = 'jwks-user') =>
    new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject(sub).setExpirationTime('5m').sign(key);

  it('accepts ES256 and RS256 tokens signed by the provider’s keys', async () => {
    for (const token of [await sign('ES256', 'es', es256.privateKey), await sign('RS256', 'rs', rs256.privateKey)]) {
      const client = await ChatClient.connect(node.wsUrl, token);
      expect(client.user).toBe('jwks-user');
      client.close();
    }
  });

  it('refuses a token signed by another key, and an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const stranger = await generateKeyPair('ES256');
    await expect(ChatClient.connect(node.wsUrl, await sign('ES256', 'es', stranger.privateKey))).rejects.toThrow(/401/);
    const publicPem = new TextEncoder().encode(await exportSPKI(rs256.publicKey));
    await expect(ChatClient.connect(node.wsUrl, await sign('HS256', 'rs', publicPem))).rejects.toThrow(/401/);
  });
});
