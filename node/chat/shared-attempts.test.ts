import { describe, expect, it } from 'vitest';
import { SharedAttempts } from './shared-attempts.js';

describe('SharedAttempts', () => {
  it('runs the work once for every caller of a key while it is under way and once it is done', async () => {
    const attempts = new SharedAttempts<string>();
    let runs = 0;
    const work = async (): Promise<void> => {
      runs += 1;
      await Promise.resolve();
    };
    await Promise.all([attempts.run('alice', work), attempts.run('alice', work)]);
    await attempts.run('alice', work);
    expect(runs).toBe(1);
    await attempts.run('bob', work);
    expect(runs).toBe(2);
  });

  it('fails every caller of a failed attempt, and the next caller tries afresh', async () => {
    const attempts = new SharedAttempts<string>();
    let runs = 0;
    const failing = async (): Promise<void> => {
      runs += 1;
      await Promise.resolve();
      throw new Error('blip');
    };
    const first = attempts.run('alice', failing);
    const second = attempts.run('alice', failing);
    await expect(first).rejects.toThrow('blip');
    await expect(second).rejects.toThrow('blip');
    await attempts.run('alice', () => Promise.resolve());
    expect(runs).toBe(1);
  });

  it('does the work again once a done attempt is forgotten', async () => {
    const attempts = new SharedAttempts<string>();
    let runs = 0;
    const work = (): Promise<void> => {
      runs += 1;
      return Promise.resolve();
    };
    await attempts.run('crew', work);
    attempts.forget('crew');
    await attempts.run('crew', work);
    expect(runs).toBe(2);
  });
});
