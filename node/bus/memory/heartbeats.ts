import type { NodeHeartbeats } from '../bus.js';

/** Heartbeats in process, with the Redis ones' behaviour. */
export class MemoryHeartbeats implements NodeHeartbeats {
  private readonly expiries = new Map<string, number>();
  private readonly cleanupClaims = new Map<string, number>();

  beat(node: string, ttlSeconds: number): Promise<void> {
    this.expiries.set(node, Date.now() + ttlSeconds * 1000);
    return Promise.resolve();
  }

  expired(): Promise<string[]> {
    const now = Date.now();
    return Promise.resolve([...this.expiries].filter(([, expiry]) => expiry <= now).map(([node]) => node).sort());
  }

  forget(node: string): Promise<void> {
    this.expiries.delete(node);
    return Promise.resolve();
  }

  claimCleanup(node: string, ttlSeconds: number): Promise<boolean> {
    const expiry = this.expiries.get(node);
    if (expiry !== undefined && expiry > Date.now()) return Promise.resolve(false);
    return this.claimOwnCleanup(node, ttlSeconds);
  }

  claimOwnCleanup(node: string, ttlSeconds: number): Promise<boolean> {
    const now = Date.now();
    const claimedUntil = this.cleanupClaims.get(node);
    if (claimedUntil !== undefined && claimedUntil > now) return Promise.resolve(false);
    this.cleanupClaims.set(node, now + ttlSeconds * 1000);
    return Promise.resolve(true);
  }

  releaseCleanup(node: string): Promise<void> {
    this.cleanupClaims.delete(node);
    return Promise.resolve();
  }
}
