import { describe, expect, it } from 'vitest';
import { beatsPerRefreshRound, refreshesPerSecond, refreshShare, SESSION_TTL_SECONDS } from './session-refresh.js';

describe('session row refresh', () => {
  it('writes every socket once per round, a share each beat, wrapping at the end', () => {
    const sockets = ['a', 'b', 'c', 'd', 'e'];
    const written: string[] = [];
    let cursor = 0;
    for (let beat = 0; beat < 3; beat++) {
      const { share, next } = refreshShare(sockets, cursor, 3);
      expect(share).toHaveLength(2);
      written.push(...share);
      cursor = next;
    }
    expect(written).toEqual(['a', 'b', 'c', 'd', 'e', 'a']);
    expect(cursor).toBe(1);
  });

  it('costs a node holding 10,000 sockets 11 row writes a second, whatever its heartbeat', () => {
    // A round is a quarter of the TTL; each socket is written once in it.
    expect(refreshesPerSecond(10_000)).toBeCloseTo(10_000 / (SESSION_TTL_SECONDS / 4), 6);
    expect(refreshesPerSecond(10_000)).toBeCloseTo(11.1, 1);
    // The beats' shares add up to the same rate: 5 s beats, 180 of them a round.
    expect(Math.ceil(10_000 / beatsPerRefreshRound(5_000)) / 5).toBeCloseTo(refreshesPerSecond(10_000), 0);
  });

  it('writes nothing and restarts when the node holds no socket', () => {
    expect(refreshShare([], 7, 180)).toEqual({ share: [], next: 0 });
  });

  it('restarts inside the list when sockets closed since the last beat', () => {
    expect(refreshShare(['a', 'b'], 5, 2)).toEqual({ share: ['b'], next: 0 });
  });

  it('spreads a round over a quarter of the TTL, so a row is rewritten well before it expires', () => {
    const beats = beatsPerRefreshRound(5_000);
    expect(beats).toBe(180);
    expect((beats * 5_000) / 1000).toBeLessThanOrEqual(SESSION_TTL_SECONDS / 4);
    expect(beatsPerRefreshRound(10 * 60 * 60 * 1000)).toBe(1);
  });
});
