import { describe, expect, it } from 'vitest';
import { SharedAttempts } from './shared-attempts.js';

/** Work that counts its runs, and fails with `blip` when told to. */
function countedWork(outcome: 'succeeds' | 'fails'): { work: () => Promise<void>; runs: () => number } {
  let runs = 0;
  const work = async (): Promise<void> => {
    runs += 1;
    await Promise.resolve();
    if (outcome === 'fails') throw new Error('blip');
  };
  return { work, runs: () => runs };
}

describe('SharedAttempts', () => {
  it('runs the work once for every caller of a key while it is under way and once it is done', async () => {
    const attempts = new SharedAttempts<string>();
    const { work, runs } = countedWork('succeeds');
    await Promise.all([attempts.run('alice', work), attempts.run('alice', work)]);
    await attempts.run('alice', work);
    expect(runs()).toBe(1);
    await attempts.run('bob', work);
    expect(runs()).toBe(2);
  });

  it('fails every caller of a failed attempt, and the next caller tries afresh', async () => {
    const attempts = new SharedAttempts<string>();
    const failing = countedWork('fails');
    const first = attempts.run('alice', failing.work);
    const second = attempts.run('alice', failing.work);
    await expect(first).rejects.toThrow('blip');
    await expect(second).rejects.toThrow('blip');
    expect(failing.runs()).toBe(1);
    const retry = countedWork('succeeds');
    await attempts.run('alice', retry.work);
    expect(retry.runs()).toBe(1);
  });

  it('does the work again once a done attempt is forgotten', async () => {
    const attempts = new SharedAttempts<string>();
    const { work, runs } = countedWork('succeeds');
    await attempts.run('crew', work);
    attempts.forget('crew');
    await attempts.run('crew', work);
    expect(runs()).toBe(2);
  });
});
