/** Latency percentiles in milliseconds; null when nothing was measured. */
export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentiles of `samples` (milliseconds). */
export function percentiles(samples: Float64Array | readonly number[]): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const rank = (fraction: number): number | null => {
    if (sorted.length === 0) return null;
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
    return round(sorted[index] ?? 0, 2);
  };
  return { count: sorted.length, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: rank(1) };
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Each value rounded to `digits` decimals. */
export function roundEach(values: Record<string, number>, digits: number): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, round(value, digits)]));
}

/** Each value over `divisor`, to 2 decimals. */
export function eachOver(values: Readonly<Record<string, number>>, divisor: number): Record<string, number> {
  return roundEach(Object.fromEntries(Object.entries(values).map(([name, value]) => [name, value / divisor])), 2);
}

/** Each count over the messages, to 2 decimals; null when there were none. */
export function perMessage(counts: Readonly<Record<string, number>>, messages: number): Record<string, number> | null {
  return messages <= 0 ? null : eachOver(counts, messages);
}

/** `ours / peer`, rounded, or null when either is missing or the peer's is zero. */
export function ratio(ours: number | null | undefined, peer: number | null | undefined): number | null {
  if (ours === null || ours === undefined || peer === null || peer === undefined || peer === 0) return null;
  return round(ours / peer, 2);
}
