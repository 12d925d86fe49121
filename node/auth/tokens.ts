import { createVerifier, TokenError } from 'fast-jwt';
import { createRemoteJWKSet, errors, jwtVerify, SignJWT } from 'jose';
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
 * Tokens a node remembers as checked (fast-jwt's LRU): a client reconnecting with its token
 * is not checked again. Refused tokens take entries too (already expired), so a flood of
 * forged ones makes valid ones be checked again; it never gets one accepted.
 */
const CHECKED_TOKENS = 20_000;

/**
 * Verifies JWTs. The accepted algorithms are fixed by the key kind, so `alg: none` and
 * algorithm confusion (an HS256 token signed with a public key) are refused.
 *
 * A shared secret is checked with fast-jwt, on node:crypto: every socket opening checks a
 * token, and jose's Web Crypto verify took 13.6 % of a node's busy time in a reconnect storm
 * (alone on this machine: 65 µs of CPU a token against fast-jwt's 24 µs). Its cache keeps a
 * checked token's claims until the token expires, at most 10 minutes, while it is among the
 * most recent. Keys from a JWKS are fetched, cached and rotated by jose.
 */
export function tokenVerifier(config: AuthConfig): TokenVerifier {
  const claimsOf = config.kind === 'secret' ? secretClaims(config.secret) : jwksClaims(config.url);
  return {
    async verify(token) {
      let claims: Claims;
      try {
        claims = await claimsOf(token);
      } catch (error) {
        throw refusal(error);
      }
      const user = UserId.safeParse(claims.sub);
      if (!user.success) throw new ChatError('unauthorized', 'token subject is not a valid user id');
      return { user: user.data, expiresAt: (claims.exp ?? 0) * 1000 };
    },
  };
}

/** The claims a node reads from a valid token. */
interface Claims {
  sub?: unknown;
  exp?: number;
}

const REQUIRED_CLAIMS = ['exp', 'sub'];

/** A token's claims once checked; throws when it does not pass. */
type ClaimsOf = (token: string) => Claims | Promise<Claims>;

function secretClaims(secret: string): ClaimsOf {
  const verify = createVerifier({ key: secret, algorithms: ['HS256'], requiredClaims: REQUIRED_CLAIMS, cache: CHECKED_TOKENS });
  return (token) => verify(token) as Claims;
}

function jwksClaims(url: string): ClaimsOf {
  const keys = createRemoteJWKSet(new URL(url));
  const options = { algorithms: ['RS256', 'ES256'], requiredClaims: REQUIRED_CLAIMS };
  return async (token) => (await jwtVerify(token, keys, options)).payload;
}

/** Any failure to check a token, in the protocol's words; the library's own code when it has one. */
function refusal(error: unknown): ChatError {
  const code = error instanceof TokenError || error instanceof errors.JOSEError ? `: ${error.code}` : '';
  return new ChatError('unauthorized', `invalid token${code}`);
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
