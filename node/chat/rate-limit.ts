/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`; each message
 * takes one. Pure apart from the time it is given.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Whether the bucket would be full at `now`: its owner has been idle long enough to forget. */
  isFull(now: number): boolean {
    return this.tokens + (Math.max(0, now - this.updatedAt) / 1000) * this.ratePerSecond >= this.burst;
  }

  /** Takes a token if one is there; false means "rate limited". */
  take(now: number): boolean {
    const elapsedSeconds = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsedSeconds * this.ratePerSecond);
    this.updatedAt = now;
    // Refills add fractions (0.1 per 10 ms at 10/s); the epsilon absorbs their rounding error.
    if (this.tokens < 1 - 1e-9) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Counts a socket's offences (bad frames, rate-limited sends) in a sliding window; past
 * `limit` within `windowMs` the abuse is sustained and the socket is closed (1008).
 */
export class AbuseMeter {
  private readonly offences: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records an offence; true when the limit is now exceeded. */
  offend(now: number): boolean {
    this.offences.push(now);
    while ((this.offences[0] ?? now) <= now - this.windowMs) this.offences.shift();
    return this.offences.length > this.limit;
  }
}
