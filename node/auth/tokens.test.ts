import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ChatError } from '../protocol/errors.js';
import { mintToken, tokenVerifier } from './tokens.js';

const SECRET = 'a-shared-secret-of-thirty-two-by';
const key = new TextEncoder().encode(SECRET);
const now = (): number => Math.floor(Date.now() / 1000);

async function refusal(token: string): Promise<string> {
  const error: unknown = await tokenVerifier({ kind: 'secret', secret: SECRET }).verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ChatError);
  expect((error as ChatError).code).toBe('unauthorized');
  return (error as ChatError).message;
}

describe('tokens signed with the shared secret', () => {
  it('give the subject as the user and the expiry in milliseconds', async () => {
    const verifier = tokenVerifier({ kind: 'secret', secret: SECRET });
    const token = await mintToken(SECRET, 'alice', 600);
    const identity = await verifier.verify(token);
    expect(identity.user).toBe('alice');
    expect(identity.expiresAt).toBeGreaterThan(Date.now() + 590_000);
    expect(identity.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    // Checked again: the same answer.
    expect(await verifier.verify(token)).toEqual(identity);
  });

  it('are refused when expired, not yet valid, without exp or sub, or with a subject that is not a user id', async () => {
    const signed = (claims: (jwt: SignJWT) => SignJWT): Promise<string> => claims(new SignJWT({}).setProtectedHeader({ alg: 'HS256' })).sign(key);
    expect(await refusal(await signed((jwt) => jwt.setSubject('eve').setExpirationTime(now() - 60)))).toMatch(/expired/i);
    expect(await refusal(await signed((jwt) => jwt.setSubject('eve').setExpirationTime(now() + 600).setNotBefore(now() + 300)))).toMatch(/inactive|not.*before/i);
    expect(await refusal(await signed((jwt) => jwt.setSubject('eve')))).toMatch(/invalid token/);
    expect(await refusal(await signed((jwt) => jwt.setExpirationTime(now() + 600)))).toMatch(/invalid token/);
    expect(await refusal(await signed((jwt) => jwt.setSubject('eve mallory').setExpirationTime(now() + 600)))).toMatch(/not a valid user id/);
  });

  it('are refused when signed with another key, unsigned, or not a JWT', async () => {
    expect(await refusal(await mintToken('another-secret-of-thirty-two-byt', 'eve'))).toMatch(/invalid token/);
    expect(await refusal(new UnsecuredJWT({}).setSubject('eve').setExpirationTime(now() + 600).encode())).toMatch(/invalid token/);
    const [header, payload] = (await mintToken(SECRET, 'eve')).split('.');
    expect(await refusal(`${header ?? ''}.${payload ?? ''}.`)).toMatch(/invalid token/);
    expect(await refusal('garbage')).toMatch(/invalid token/);
  });
});
