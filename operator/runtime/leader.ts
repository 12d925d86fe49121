import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.js';
import { ApiError, rawRequest } from './raw-api.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** This process's identity (pod name); the Lease's holderIdentity while it leads. */
  identity: string;
  leaseDurationSeconds?: number;
  /**
   * How long a leader keeps acting without a renewal the API server answered (client-go's
   * RenewDeadline): well inside the Lease's duration, so it has stopped before a candidate
   * can take the Lease. Default: two thirds of the duration.
   */
  renewDeadlineMs?: number;
  /** How often the leader renews and candidates retry. */
  retryPeriodMs?: number;
  log: Logger;
}

interface Lease {
  metadata: { resourceVersion?: string; managedFields?: unknown };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

/** RFC 3339 with microseconds, the only form the API server accepts for a Lease's MicroTime fields. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's: the holder renews
 * every retry period; a candidate takes the Lease once it has not been renewed for its
 * duration. Writes carry the resourceVersion read, so two candidates never both win.
 */
export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenewal = 0;
  /** The Lease's holder and renewTime as last read, and when (local clock). */
  private lastObserved = { value: '', at: 0 };

  constructor(
    private readonly config: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {}

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
  }

  private get durationSeconds(): number {
    return this.options.leaseDurationSeconds ?? 15;
  }

  /** Campaigns until leading, then keeps renewing; `onLost` is called if leadership is lost. */
  run(onStartedLeading: () => void, onLost: () => void): void {
    const retry = this.options.retryPeriodMs ?? 2000;
    const renewDeadline = this.options.renewDeadlineMs ?? (this.durationSeconds * 1000 * 2) / 3;
    const attempt = async (): Promise<void> => {
      const startedAt = Date.now();
      // A request that hangs (a partition, an API server that stopped answering) must not
      // keep a leader acting past its deadline: each attempt gets what is left of it.
      const budget = this.leading ? renewDeadline - (startedAt - this.lastRenewal) : renewDeadline;
      // Aborted, not abandoned: a late answer must not update what this process saw of the Lease.
      const held = await this.tryAcquireOrRenew(new Date(startedAt), AbortSignal.timeout(Math.max(1, budget))).catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'leader election: could not reach the Lease');
        return false;
      });
      // The renewal the server took was written at startedAt, so that is when the Lease was last renewed.
      if (held) this.lastRenewal = startedAt;
      if (held && !this.leading) {
        this.leading = true;
        this.options.log.info({ lease: this.options.name, identity: this.options.identity }, 'became leader');
        onStartedLeading();
      } else if (this.leading && !held && Date.now() - this.lastRenewal >= renewDeadline) {
        // Could not renew in time: another candidate may take over; stop acting at once.
        this.leading = false;
        this.options.log.error('lost leadership');
        onLost();
        return;
      }
      this.timer = setTimeout(() => void attempt(), retry);
    };
    void attempt();
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Gives the Lease up (on shutdown), so another candidate takes over without waiting for expiry. */
  async release(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const lease = await this.read();
    if (lease?.spec?.holderIdentity !== this.options.identity) return;
    const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) };
    await rawRequest(this.config, 'PUT', `${this.path}/${this.options.name}`, this.leaseBody(spec, lease.metadata)).catch(() => undefined);
  }

  /**
   * A Lease to write; an update carries the metadata read (its resourceVersion, and the
   * labels and annotations of the Helm chart, which creates the Lease).
   */
  private leaseBody(spec: Lease['spec'], current?: Lease['metadata']): unknown {
    const { name, namespace } = this.options;
    // Everything read but managedFields, which the server keeps by itself.
    const kept: Record<string, unknown> = { ...current };
    delete kept.managedFields;
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...kept, name, namespace }, spec };
  }

  private async read(signal?: AbortSignal): Promise<Lease | undefined> {
    try {
      return await rawRequest<Lease>(this.config, 'GET', `${this.path}/${this.options.name}`, undefined, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  private async tryAcquireOrRenew(now: Date, signal: AbortSignal): Promise<boolean> {
    const { name, identity } = this.options;
    const lease = await this.read(signal);
    if (lease === undefined) {
      const spec = { holderIdentity: identity, leaseDurationSeconds: this.durationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      return rawRequest(this.config, 'POST', this.path, this.leaseBody(spec), { signal }).then(() => true, () => false);
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    // As client-go: the Lease expires a duration after this process last SAW it change, by
    // its own clock; comparing the holder's renewTime with our clock would trust two clocks.
    // Seen when the read answered, not when it was sent: a slow read must not age the Lease.
    const seenAt = Date.now();
    const observed = `${holder}/${spec.renewTime ?? ''}`;
    if (observed !== this.lastObserved.value) this.lastObserved = { value: observed, at: seenAt };
    const expired = this.lastObserved.at + (spec.leaseDurationSeconds ?? this.durationSeconds) * 1000 < seenAt;
    if (holder !== identity && holder !== '' && !expired) return false;
    const taking = holder !== identity;
    const next = {
      holderIdentity: identity,
      leaseDurationSeconds: this.durationSeconds,
      acquireTime: taking ? microTime(now) : (spec.acquireTime ?? microTime(now)),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (taking ? 1 : 0),
    };
    // A conflict (409) means someone else wrote the Lease since we read it: not ours this round.
    return rawRequest(this.config, 'PUT', `${this.path}/${name}`, this.leaseBody(next, lease.metadata), { signal }).then(() => true, () => false);
  }
}
