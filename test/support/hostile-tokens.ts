import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignJWT } from 'jose';

/** A token a node must refuse, and why. */
export interface HostileToken {
  name: string;
  token: string;
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** A JWT with any header and payload, HMAC-signed with `secret` (or with the signature given). */
function handMade(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string, signature?: string): string {
  const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const mac = signature ?? createHmac(header.alg === 'HS512' ? 'sha512' : header.alg === 'HS384' ? 'sha384' : 'sha256', secret).update(signed).digest('base64url');
  return `${signed}.${mac}`;
}

/**
 * Tokens with a bad `sub`, `exp`, `nbf`, algorithm or signature, and tokens that are not
 * tokens. Every one must be refused with 401 before any upgrade.
 */
export async function hostileTokens(secret: string): Promise<HostileToken[]> {
  const now = Math.floor(Date.now() / 1000);
  const good = { sub: 'fuzz-user', exp: now + 3600, iat: now };
  const hs256 = { alg: 'HS256', typ: 'JWT' };
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const es256 = await new SignJWT(good).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  const valid = handMade(hs256, good, secret);
  const [validHeader, validPayload, validSignature] = valid.split('.') as [string, string, string];
  const tokens: HostileToken[] = [
    { name: 'sub missing', token: handMade(hs256, { exp: good.exp }, secret) },
    { name: 'sub empty', token: handMade(hs256, { ...good, sub: '' }, secret) },
    { name: 'sub 65 characters', token: handMade(hs256, { ...good, sub: 'a'.repeat(65) }, secret) },
    { name: 'sub with a slash', token: handMade(hs256, { ...good, sub: '../admin' }, secret) },
    { name: 'sub a number', token: handMade(hs256, { ...good, sub: 42 }, secret) },
    { name: 'sub an object', token: handMade(hs256, { ...good, sub: { __proto__: { admin: true } } }, secret) },
    { name: 'sub with unicode', token: handMade(hs256, { ...good, sub: 'ädmin\u202e' }, secret) },
    { name: 'sub with NUL', token: handMade(hs256, { ...good, sub: 'a\u0000b' }, secret) },
    { name: 'exp missing', token: handMade(hs256, { sub: good.sub }, secret) },
    { name: 'exp past', token: handMade(hs256, { ...good, exp: now - 120 }, secret) },
    { name: 'exp a string', token: handMade(hs256, { ...good, exp: 'never' }, secret) },
    { name: 'nbf in the future', token: handMade(hs256, { ...good, nbf: now + 3600 }, secret) },
    { name: 'nbf a string', token: handMade(hs256, { ...good, nbf: 'now' }, secret) },
    { name: 'alg none', token: `${base64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${validPayload}.` },
    { name: 'alg None', token: `${base64url(JSON.stringify({ alg: 'None' }))}.${validPayload}.` },
    { name: 'alg HS512', token: handMade({ alg: 'HS512' }, good, secret) },
    { name: 'alg HS384', token: handMade({ alg: 'HS384' }, good, secret) },
    { name: 'alg RS256 with an HMAC signature', token: handMade({ alg: 'RS256' }, good, secret, validSignature) },
    { name: 'ES256 signed by a stranger', token: es256 },
    { name: 'signed with another secret', token: handMade(hs256, good, `${secret}-not`) },
    { name: 'signature cut', token: `${validHeader}.${validPayload}.${validSignature.slice(0, -2)}` },
    { name: 'signature empty', token: `${validHeader}.${validPayload}.` },
    { name: 'payload swapped, signature kept', token: `${validHeader}.${base64url(JSON.stringify({ ...good, sub: 'admin' }))}.${validSignature}` },
    { name: 'header crit', token: handMade({ ...hs256, crit: ['exp'] }, good, secret) },
    { name: 'header not JSON', token: `${base64url('{alg')}.${validPayload}.${validSignature}` },
    { name: 'two parts', token: `${validHeader}.${validPayload}` },
    { name: 'four parts', token: `${valid}.${validSignature}` },
    { name: 'garbage', token: 'not-a-token' },
    { name: 'very long', token: `${validHeader}.${'A'.repeat(8000)}.${validSignature}` },
    { name: 'payload not JSON', token: `${validHeader}.${base64url('[1,2')}.${validSignature}` },
  ];
  return tokens;
}

/** How a node answered an upgrade request: its status and JSON body, or that it upgraded. */
export interface UpgradeAnswer {
  status: number;
  body: string;
}

/** Asks `url` (`http://host:port/ws?…`) for a WebSocket upgrade with these headers and reports the answer. */
export function tryUpgrade(url: string, headers: Record<string, string>): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers },
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on('error', reject);
    request.end();
  });
}
