import { describe, expect, it } from 'vitest';
import { idTime } from '../protocol/cursor.js';
import { InFlightMessages } from './in-flight.js';
import { clockToFollow, clusterWatermark } from './watermark.js';

describe('messages in flight', () => {
  it('the watermark is at most the lowest unfinished id, and rises as messages finish', () => {
    const inFlight = new InFlightMessages();
    const first = inFlight.take(1_000);
    const second = inFlight.take(1_000);
    const third = inFlight.take(1_005);
    expect(inFlight.watermark(1_010)).toBe(first);
    inFlight.finish(second);
    expect(inFlight.watermark(1_010)).toBe(first);
    inFlight.finish(first);
    expect(inFlight.watermark(1_010)).toBe(third);
    inFlight.finish(third);
    expect(idTime(inFlight.watermark(1_010))).toBe(1_010);
  });

  it('ids taken after a watermark are never below it, even when the system clock steps back', () => {
    const inFlight = new InFlightMessages();
    const watermark = inFlight.watermark(5_000);
    for (const now of [4_000, 4_999, 5_000, 3_000]) {
      const id = inFlight.take(now);
      expect(id >= watermark).toBe(true);
      inFlight.finish(id);
    }
  });

  it('following another node’s clock moves this node’s ids up to it', () => {
    const inFlight = new InFlightMessages();
    inFlight.follow(9_000);
    expect(idTime(inFlight.take(1_000))).toBe(9_000);
  });
});

describe('the cluster watermark', () => {
  it('is the lowest published watermark, this node’s own taken live', () => {
    const published = new Map([
      ['a', '01J0000000000000000000000B'],
      ['b', '01J0000000000000000000000C'],
      ['self', '01J00000000000000000000000'],
    ]);
    expect(clusterWatermark(published, 'self', '01J0000000000000000000000D')).toBe('01J0000000000000000000000B');
    expect(clusterWatermark(published, 'self', '01J0000000000000000000000A')).toBe('01J0000000000000000000000A');
    expect(clusterWatermark(new Map(), 'self', '01J0000000000000000000000A')).toBe('01J0000000000000000000000A');
  });

  it('moves a clock past the lowest other watermark, and up to the highest unless it is too far ahead', () => {
    const at = (ms: number): string => new InFlightMessages().watermark(ms);
    const published = new Map([
      ['a', at(1_000)],
      ['b', at(1_500)],
      ['wrong-clock', at(100_000)],
      ['self', at(10)],
    ]);
    expect(clockToFollow(published, 'self', 500, 10_000)).toBe(1_501);
    expect(clockToFollow(published, 'self', 2_000, 10_000)).toBe(2_000);
    expect(clockToFollow(published, 'self', 500, 200_000)).toBe(100_001);
    expect(clockToFollow(new Map([['self', at(9_999)]]), 'self', 500, 10_000)).toBe(500);
  });

  /**
   * The whole rule on many nodes with skewed clocks, messages finishing in random order, and
   * watermarks published late: whenever a reader computes the cluster watermark W from what
   * it last read, every id below W is already finished, and no node ever takes an id below W.
   */
  it('never passes a message still in flight, nor one taken later, whatever the skews and orders', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const skews = [0, -500, 700, 30];
    const nodes = skews.map((skew, index) => ({ name: `n${index}`, skew, inFlight: new InFlightMessages(), open: [] as string[] }));
    const published = new Map<string, string>();
    let taken = 0;
    let now = 1_700_000_000_000;
    for (const node of nodes) published.set(node.name, node.inFlight.watermark(now + node.skew));
    const violations: string[] = [];
    for (let step = 0; step < 6_000; step++) {
      now += Math.floor(random() * 3);
      const node = nodes[Math.floor(random() * nodes.length)];
      if (node === undefined) continue;
      const action = random();
      if (action < 0.35) {
        const id = node.inFlight.take(now + node.skew);
        node.open.push(id);
        taken += 1;
      } else if (action < 0.8 && node.open.length > 0) {
        const [id] = node.open.splice(Math.floor(random() * node.open.length), 1);
        if (id !== undefined) node.inFlight.finish(id);
      } else {
        // An exchange: publish, read the others, follow, and check the rule at this moment.
        const own = node.inFlight.watermark(now + node.skew);
        const read = new Map(published);
        published.set(node.name, own);
        node.inFlight.follow(clockToFollow(read, node.name, now + node.skew, 60_000));
        const watermark = clusterWatermark(read, node.name, own);
        for (const other of nodes) {
          for (const id of other.open) if (id < watermark) violations.push(`${id} in flight below ${watermark}`);
        }
        const other = nodes[Math.floor(random() * nodes.length)];
        if (other !== undefined) {
          const next = other.inFlight.take(now + other.skew);
          if (next < watermark) violations.push(`${next} taken below ${watermark}`);
          other.open.push(next);
          taken += 1;
        }
      }
    }
    expect(violations).toEqual([]);
    expect(taken).toBeGreaterThan(2_000);
  });
});
