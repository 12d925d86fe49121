import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import { ChatError } from '../protocol/errors.js';
import { UserId } from '../protocol/frames.js';

/** How tokens are checked: a shared HS256 secret, or a JWKS of RS256/ES256 keys. */
export type AuthConfig = { kind: 'secret'; secret: string } | { kind: 'jwks'; url: string };

/** Who a valid token speaks for, and until when (ms since epoch). */
export interface Identity {
  user: string;
  expiresAt: number;
}

export interface TokenVerifier {
  /** The identity of a valid token; `ChatError('unauthorized')` for anything else. */
  verify(token: string): Promise<Identity>;
}

/**
 * Verifies JWTs with jose. The accepted algorithms are fixed by the key kind, so `alg: none`
 * and algorithm confusion (an HS256 token signed with a public key) are refused.
 */
export function tokenVerifier(config: AuthConfig): TokenVerifier {
  // The shared secret is imported as a key once: given raw bytes, jose imports them again
  // for every token it checks.
  const key: Promise<webcrypto.CryptoKey> | JWTVerifyGetKey =
    config.kind === 'secret'
      ? webcrypto.subtle.importKey('raw', new TextEncoder().encode(config.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      : createRemoteJWKSet(new URL(config.url));
  const algorithms = config.kind === 'secret' ? ['HS256'] : ['RS256', 'ES256'];
  return {
    async verify(token) {
      try {
        const options = { algorithms, requiredClaims: ['exp', 'sub'] };
        const { payload } = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, await key, options);
        const user = UserId.safeParse(payload.sub);
        if (!user.success) throw new ChatError('unauthorized', 'token subject is not a valid user id');
        return { user: user.data, expiresAt: (payload.exp ?? 0) * 1000 };
      } catch (error) {
        if (error instanceof ChatError) throw error;
        if (error instanceof errors.JOSEError) throw new ChatError('unauthorized', `invalid token: ${error.code}`);
        throw new ChatError('unauthorized', 'invalid token');
      }
    },
  };
}

/** Mints an HS256 token for `user` (local development, the CLI and tests). */
export function mintToken(secret: string, user: string, ttlSeconds = 3600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
