import { describe, expect, it } from 'vitest';
import { range, unique, useBus, type OpenBus } from './harness.js';

/** The idempotency keys port of the Bus contract. */
export function describeIdempotencyKeysContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: idempotency keys`, () => {
    const h = useBus(open);
    const ack = { id: '01JABCDEFGHJKMNPQRSTVWXYZ0', ts: 1_700_000_000_123, conv: 'dm:alice:bob' };
    // The message of a retry that took the key after the first send's claim lapsed.
    const retry = { ...ack, id: '01JABCDEFGHJKMNPQRSTVWXYZ9' };
    /** What a later send with the key is answered (it claims the key when it is free). */
    const answerOf = (user: string, key: string) => h.bus.idempotency.claim(user, key, '01JABCDEFGHJKMNPQRSTVWXYZ5');

    it('a first claim wins, a second sees it pending, then sees the first ack once completed', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key, ack.id)).toBeUndefined();
      expect(await h.bus.idempotency.claim(user, key, retry.id)).toBe('pending');
      await h.bus.idempotency.complete(user, key, ack);
      expect(await answerOf(user, key)).toEqual(ack);
      expect(await answerOf(user, key)).toEqual(ack);
    });

    it('only one of many concurrent claims wins', async () => {
      const [user, key] = [unique('user'), unique('key')];
      const answers = await Promise.all(range(1, 10).map((n) => h.bus.idempotency.claim(user, key, `01JABCDEFGHJKMNPQRSTVWX0${n % 10}`)));
      expect(answers.filter((answer) => answer === undefined)).toHaveLength(1);
      expect(answers.filter((answer) => answer === 'pending')).toHaveLength(9);
    });

    it('a claim released by its send can be claimed again; another send cannot release it', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key, ack.id)).toBeUndefined();
      await h.bus.idempotency.release(user, key, retry.id);
      expect(await h.bus.idempotency.claim(user, key, retry.id)).toBe('pending');
      await h.bus.idempotency.release(user, key, ack.id);
      expect(await h.bus.idempotency.claim(user, key, retry.id)).toBeUndefined();
      expect(await h.bus.idempotency.claim(user, key, ack.id)).toBe('pending');
    });

    it('holding a claim keeps it pending, and leaves a completed key with its ack', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key, ack.id)).toBeUndefined();
      await h.bus.idempotency.hold(user, key, ack.id);
      expect(await h.bus.idempotency.claim(user, key, retry.id)).toBe('pending');
      await h.bus.idempotency.complete(user, key, ack);
      await h.bus.idempotency.hold(user, key, ack.id);
      expect(await answerOf(user, key)).toEqual(ack);
      // A key that is gone (released, or lapsed) is not brought back by a hold.
      const gone = unique('key');
      await h.bus.idempotency.hold(user, gone, ack.id);
      expect(await h.bus.idempotency.claim(user, gone, retry.id)).toBeUndefined();
    });

    it('an ack once given is never replaced nor released (a late completion of a lapsed claim)', async () => {
      const [user, key] = [unique('user'), unique('key')];
      expect(await h.bus.idempotency.claim(user, key, ack.id)).toBeUndefined();
      await h.bus.idempotency.complete(user, key, ack);
      await h.bus.idempotency.complete(user, key, retry);
      await h.bus.idempotency.release(user, key, ack.id);
      expect(await answerOf(user, key)).toEqual(ack);
      // A key whose claim lapsed (or was never made) takes the ack of whoever completes it.
      const lapsed = unique('key');
      await h.bus.idempotency.complete(user, lapsed, retry);
      expect(await answerOf(user, lapsed)).toEqual(retry);
    });

    it('a claim taken by a retry belongs to it: the first send neither answers nor frees it', async () => {
      const [user, key] = [unique('user'), unique('key')];
      // The first send's claim lapsed, and a retry claimed the key for its own message.
      expect(await h.bus.idempotency.claim(user, key, retry.id)).toBeUndefined();
      await h.bus.idempotency.complete(user, key, ack);
      await h.bus.idempotency.release(user, key, ack.id);
      expect(await h.bus.idempotency.claim(user, key, ack.id)).toBe('pending');
      await h.bus.idempotency.complete(user, key, retry);
      expect(await answerOf(user, key)).toEqual(retry);
    });

    it('a message left unsettled takes its own claim, its own ack or a free key over, never another send’s', async () => {
      const user = unique('user');
      const own = unique('key');
      expect(await h.bus.idempotency.claim(user, own, ack.id)).toBeUndefined();
      expect(await h.bus.idempotency.adopt(user, own, ack.id)).toBe(true);
      expect(await h.bus.idempotency.claim(user, own, retry.id)).toBe('pending');
      await h.bus.idempotency.complete(user, own, ack);
      expect(await answerOf(user, own)).toEqual(ack);

      const free = unique('key');
      expect(await h.bus.idempotency.adopt(user, free, ack.id)).toBe(true);
      expect(await h.bus.idempotency.claim(user, free, retry.id)).toBe('pending');

      // Stored and answered before its node died: the survivor routes it and answers it again.
      const answered = unique('key');
      expect(await h.bus.idempotency.claim(user, answered, ack.id)).toBeUndefined();
      await h.bus.idempotency.complete(user, answered, ack);
      expect(await h.bus.idempotency.adopt(user, answered, ack.id)).toBe(true);
      expect(await answerOf(user, answered)).toEqual(ack);

      const taken = unique('key');
      expect(await h.bus.idempotency.claim(user, taken, retry.id)).toBeUndefined();
      expect(await h.bus.idempotency.adopt(user, taken, ack.id)).toBe(false);
      await h.bus.idempotency.complete(user, taken, retry);
      expect(await h.bus.idempotency.adopt(user, taken, ack.id)).toBe(false);
      expect(await answerOf(user, taken)).toEqual(retry);
    });

    it('keys belong to one user: the same key of another user is free', async () => {
      const [alice, bob, key] = [unique('alice'), unique('bob'), unique('key')];
      expect(await h.bus.idempotency.claim(alice, key, ack.id)).toBeUndefined();
      await h.bus.idempotency.complete(alice, key, ack);
      expect(await h.bus.idempotency.claim(bob, key, retry.id)).toBeUndefined();
      expect(await h.bus.idempotency.claim(alice, unique('key'), retry.id)).toBeUndefined();
      expect(await answerOf(alice, key)).toEqual(ack);
    });
  });
}
