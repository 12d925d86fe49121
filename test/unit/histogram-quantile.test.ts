import { describe, expect, it } from 'vitest';
import { histogramQuantileMs } from '../bench/process-figures.js';

const NAME = 'chat_delivery_latency_seconds';

/** One process's scrape of a histogram with these cumulative bucket counts. */
function scrape(counts: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(counts).map(([le, count]) => [`${NAME}_bucket{le="${le}"}`, count]));
}

describe('a quantile of a histogram between two scrapes', () => {
  it('interpolates within the bucket the rank falls in, over the difference of the scrapes, summed over processes', () => {
    const before = [scrape({ '0.01': 10, '0.1': 10, '1': 10, '+Inf': 10 }), scrape({ '0.01': 0, '0.1': 0, '1': 0, '+Inf': 0 })];
    // Between the scrapes: 50 at or below 10 ms, 40 more up to 100 ms, 10 more up to 1 s (two processes).
    const after = [scrape({ '0.01': 40, '0.1': 60, '1': 65, '+Inf': 65 }), scrape({ '0.01': 20, '0.1': 40, '1': 45, '+Inf': 45 })];
    expect(histogramQuantileMs(before, after, NAME, 0.5)).toBe(10);
    expect(histogramQuantileMs(before, after, NAME, 0.7)).toBe(55);
    expect(histogramQuantileMs(before, after, NAME, 0.99)).toBe(910);
    expect(histogramQuantileMs(before, after, NAME, 0.25)).toBe(5);
  });

  it('gives the highest finite bound past it, and null when nothing was observed', () => {
    const before = [scrape({ '0.1': 0, '1': 0, '+Inf': 0 })];
    expect(histogramQuantileMs(before, [scrape({ '0.1': 1, '1': 1, '+Inf': 4 })], NAME, 0.99)).toBe(1000);
    expect(histogramQuantileMs(before, before, NAME, 0.5)).toBeNull();
    expect(histogramQuantileMs(before, [new Map()], 'other_metric', 0.5)).toBeNull();
    expect(() => histogramQuantileMs(before, before, NAME, 99)).toThrow(RangeError);
  });

  it('counts only the series its labels name, as prom-client writes them (le first)', () => {
    const store = 'chat_store_latency_seconds';
    const series = (operation: string, counts: Record<string, number>): [string, number][] =>
      Object.entries(counts).map(([le, count]) => [`${store}_bucket{le="${le}",operation="${operation}"}`, count]);
    const before = [new Map<string, number>()];
    const after = [new Map([...series('append_message', { '0.01': 99, '0.1': 100, '+Inf': 100 }), ...series('read_history', { '0.01': 0, '0.1': 0, '+Inf': 100 })])];
    expect(histogramQuantileMs(before, after, store, 0.5, '{operation="append_message"}')).toBeCloseTo(5.05);
    expect(histogramQuantileMs(before, after, store, 0.5, '{operation="read_history"}')).toBe(100);
    // Without labels both series count: the 50th of 200 observations, where the 25th of append_message's 100 was.
    expect(histogramQuantileMs(before, after, store, 0.25, '{operation="append_message"}')).toBeCloseTo(2.53);
    expect(histogramQuantileMs(before, after, store, 0.25)).toBeCloseTo(5.05);
  });
});
