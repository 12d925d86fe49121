import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../common/log.js';
import { ChatError } from '../protocol/errors.js';
import { keepHolding, UnsettledAppends, type UnsettledAppend } from './unsettled-appends.js';

const log = createLogger('unsettled-appends-test', 'silent');

/** An append whose store answers with `outcomes` in turn (an error to throw, or undefined for stored), recording what happened. */
function scripted(id: string, outcomes: (Error | undefined)[]): UnsettledAppend & { attempts: number; holds: number; storedTimes: number; abandonedWith: unknown[] } {
  const record = {
    id,
    attempts: 0,
    holds: 0,
    storedTimes: 0,
    abandonedWith: [] as unknown[],
    append: () => {
      const outcome = outcomes[record.attempts];
      record.attempts += 1;
      return outcome === undefined ? Promise.resolve() : Promise.reject(outcome);
    },
    hold: () => {
      record.holds += 1;
      return Promise.resolve();
    },
    stored: () => {
      record.storedTimes += 1;
      return Promise.resolve();
    },
    abandoned: (error: unknown) => {
      record.abandonedWith.push(error);
    },
  };
  return record;
}

const unavailable = (): ChatError => new ChatError('unavailable', 'Cassandra is unavailable (appendMessage)');

describe('UnsettledAppends', () => {
  it('writes again while the store is unavailable, holding the idem from the start, and answers once stored', async () => {
    const appends = new UnsettledAppends({ log, delayMs: () => 1 });
    const append = scripted('m1', [unavailable(), unavailable(), undefined]);
    expect(appends.keep(append)).toBe(true);
    expect(appends.size).toBe(1);
    await vi.waitFor(() => {
      expect(append.storedTimes).toBe(1);
    });
    expect(append.attempts).toBe(3);
    expect(append.holds).toBe(1);
    expect(append.abandonedWith).toEqual([]);
    await vi.waitFor(() => {
      expect(appends.size).toBe(0);
    });
  });

  it('gives a message up at the first failure no retry mends', async () => {
    const appends = new UnsettledAppends({ log, delayMs: () => 1 });
    const broken = new ChatError('internal', 'Cassandra failed (appendMessage)');
    const append = scripted('m1', [unavailable(), broken, undefined]);
    appends.keep(append);
    await vi.waitFor(() => {
      expect(append.abandonedWith).toEqual([broken]);
    });
    expect(append.attempts).toBe(2);
    expect(append.storedTimes).toBe(0);
  });

  it('refuses messages past its capacity, and takes them again once one is settled', async () => {
    const appends = new UnsettledAppends({ log, capacity: 2, delayMs: () => 20 });
    const [first, second, third] = [scripted('m1', []), scripted('m2', []), scripted('m3', [])];
    expect(appends.keep(first)).toBe(true);
    expect(appends.keep(second)).toBe(true);
    expect(appends.keep(third)).toBe(false);
    await vi.waitFor(() => {
      expect(appends.size).toBe(0);
    });
    expect(appends.keep(third)).toBe(true);
  });

  it('leaves a write that fails after it was stopped to the survivor: not given up, not answered', async () => {
    const appends = new UnsettledAppends({ log, delayMs: () => 1 });
    let failWrite: ((error: Error) => void) | undefined;
    const append = scripted('m1', []);
    append.append = () =>
      new Promise<void>((_resolve, reject) => {
        failWrite = reject;
      });
    appends.keep(append);
    await vi.waitFor(() => {
      expect(failWrite).toBeDefined();
    });
    appends.stop();
    failWrite?.(new ChatError('internal', 'the connection closed as the node stopped'));
    await vi.waitFor(() => {
      expect(appends.size).toBe(0);
    });
    expect(append.abandonedWith).toEqual([]);
    expect(append.storedTimes).toBe(0);
  });

  it('stops retrying when stopped, leaving what is unsettled unanswered, and takes nothing more', async () => {
    const appends = new UnsettledAppends({ log, delayMs: () => 30 });
    const append = scripted('m1', Array.from({ length: 1000 }, unavailable));
    appends.keep(append);
    await vi.waitFor(() => {
      expect(append.attempts).toBeGreaterThanOrEqual(2);
    });
    appends.stop();
    const attemptsAtStop = append.attempts;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(append.attempts).toBeLessThanOrEqual(attemptsAtStop + 1);
    expect(append.storedTimes).toBe(0);
    expect(append.abandonedWith).toEqual([]);
    expect(appends.keep(scripted('m2', []))).toBe(false);
  });
});

describe('keepHolding', () => {
  it('holds every 20 s, well inside the 60 s a pending idem lasts, until stopped', () => {
    vi.useFakeTimers();
    try {
      let holds = 0;
      const stop = keepHolding(() => {
        holds += 1;
        return Promise.resolve();
      });
      vi.advanceTimersByTime(19_999);
      expect(holds).toBe(0);
      vi.advanceTimersByTime(40_001);
      expect(holds).toBe(3);
      stop();
      vi.advanceTimersByTime(60_000);
      expect(holds).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
