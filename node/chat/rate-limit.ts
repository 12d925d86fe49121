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

/** How often buckets of idle users are looked for and dropped. */
const BUCKET_SWEEP_MS = 60_000;

/**
 * A token bucket per user (`ratePerSecond`, up to `burst`). Buckets of users idle long enough
 * to have refilled are dropped now and then: a full bucket is what a new one would be, so
 * nothing is lost, and the map does not grow with every user the node has ever seen.
 */
export class PerUserLimit {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  /** How many users have a bucket kept. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one of the user's tokens if one is there; false means "rate limited". */
  take(user: string, now: number): boolean {
    this.forgetRestedBuckets(now);
    let bucket = this.buckets.get(user);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
      this.buckets.set(user, bucket);
    }
    return bucket.take(now);
  }

  private forgetRestedBuckets(now: number): void {
    if (now - this.lastSweep < BUCKET_SWEEP_MS) return;
    this.lastSweep = now;
    for (const [user, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(user);
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
