import { describe, expect, it } from 'vitest';
import { range, unique, useBus, type OpenBus } from './harness.js';

/** The idempotency keys port of the Bus contract. */
export function describeIdempotencyKeysContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: idempotency keys`, () => {
    const h = useBus(open);
    const ack = { id: '01JABCDEFGHJKMNPQRSTVWXYZ0', ts: 1_700_000_000_123, conv: 'dm:alice:bob' };

    it('a first claim wins, a second sees it pending, then sees the first ack once completed', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key)).toBeUndefined();
      expect(await h.bus.idempotency.claim(user, key)).toBe('pending');
      await h.bus.idempotency.complete(user, key, ack);
      expect(await h.bus.idempotency.claim(user, key)).toEqual(ack);
      expect(await h.bus.idempotency.claim(user, key)).toEqual(ack);
    });

    it('only one of many concurrent claims wins', async () => {
      const [user, key] = [unique('user'), unique('key')];
      const answers = await Promise.all(range(1, 10).map(() => h.bus.idempotency.claim(user, key)));
      expect(answers.filter((answer) => answer === undefined)).toHaveLength(1);
      expect(answers.filter((answer) => answer === 'pending')).toHaveLength(9);
    });

    it('a released claim can be claimed again', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key)).toBeUndefined();
      await h.bus.idempotency.release(user, key);
      expect(await h.bus.idempotency.claim(user, key)).toBeUndefined();
      expect(await h.bus.idempotency.claim(user, key)).toBe('pending');
    });

    it('holding a claim keeps it pending, and leaves a completed key with its ack', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key)).toBeUndefined();
      await h.bus.idempotency.hold(user, key);
      expect(await h.bus.idempotency.claim(user, key)).toBe('pending');
      await h.bus.idempotency.complete(user, key, ack);
      await h.bus.idempotency.hold(user, key);
      expect(await h.bus.idempotency.claim(user, key)).toEqual(ack);
      // A key that is gone (released, or lapsed) is not brought back by a hold.
      const gone = unique('key');
      await h.bus.idempotency.hold(user, gone);
      expect(await h.bus.idempotency.claim(user, gone)).toBeUndefined();
    });

    it('an ack once given is never replaced nor released (a late completion of a lapsed claim)', async () => {
      const [user, key] = [unique('user'), unique('key')];
      const other = { ...ack, id: '01JABCDEFGHJKMNPQRSTVWXYZ9' };
      expect(await h.bus.idempotency.claim(user, key)).toBeUndefined();
      await h.bus.idempotency.complete(user, key, ack);
      await h.bus.idempotency.complete(user, key, other);
      await h.bus.idempotency.release(user, key);
      expect(await h.bus.idempotency.claim(user, key)).toEqual(ack);
      // A key whose claim lapsed (or was never made) takes the ack of whoever completes it.
      const lapsed = unique('key');
      await h.bus.idempotency.complete(user, lapsed, other);
      expect(await h.bus.idempotency.claim(user, lapsed)).toEqual(other);
    });

    it('keys belong to one user: the same key of another user is free', async () => {
      const [alice, bob, key] = [unique('alice'), unique('bob'), unique('key')];
      expect(await h.bus.idempotency.claim(alice, key)).toBeUndefined();
      await h.bus.idempotency.complete(alice, key, ack);
      expect(await h.bus.idempotency.claim(bob, key)).toBeUndefined();
      expect(await h.bus.idempotency.claim(alice, unique('key'))).toBeUndefined();
      expect(await h.bus.idempotency.claim(alice, key)).toEqual(ack);
    });
  });

}
