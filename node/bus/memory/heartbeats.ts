import { randomUUID } from 'node:crypto';
import type { NodeHeartbeats } from '../bus.js';

/** Heartbeats in process, with the Redis ones' behaviour. */
export class MemoryHeartbeats implements NodeHeartbeats {
  private readonly expiries = new Map<string, number>();
  private readonly cleanupClaims = new Map<string, { token: string; until: number }>();

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

  claimCleanup(node: string, ttlSeconds: number): Promise<string | undefined> {
    if (this.isBeating(node)) return Promise.resolve(undefined);
    return this.claimOwnCleanup(node, ttlSeconds);
  }

  claimOwnCleanup(node: string, ttlSeconds: number): Promise<string | undefined> {
    const now = Date.now();
    const claim = this.cleanupClaims.get(node);
    if (claim !== undefined && claim.until > now) return Promise.resolve(undefined);
    const token = randomUUID();
    this.cleanupClaims.set(node, { token, until: now + ttlSeconds * 1000 });
    return Promise.resolve(token);
  }

  keepCleanup(node: string, token: string, ttlSeconds: number): Promise<boolean> {
    const claim = this.cleanupClaims.get(node);
    if (claim?.token !== token || claim.until <= Date.now()) return Promise.resolve(false);
    claim.until = Date.now() + ttlSeconds * 1000;
    return Promise.resolve(!this.isBeating(node));
  }

  releaseCleanup(node: string, token: string): Promise<void> {
    if (this.cleanupClaims.get(node)?.token === token) this.cleanupClaims.delete(node);
    return Promise.resolve();
  }

  private isBeating(node: string): boolean {
    const expiry = this.expiries.get(node);
    return expiry !== undefined && expiry > Date.now();
  }
}
