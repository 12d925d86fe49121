import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The operator's Prometheus metrics (`/metrics` on its health port). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'chatcluster_operator_reconciles_total', help: 'Reconciles, by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'chatcluster_operator_reconcile_duration_seconds',
    help: 'Time one reconcile took',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'chatcluster_operator_workqueue_depth', help: 'Keys waiting in the work queue', registers: [this.registry] });
  readonly writes = new Counter({
    name: 'chatcluster_operator_api_writes_total',
    help: 'Writes the operator sent to the API server, by verb and kind',
    labelNames: ['verb', 'kind'] as const,
    registers: [this.registry],
  });
  readonly desiredReplicas = new Gauge({ name: 'chatcluster_desired_replicas', help: 'Chat nodes the operator wants', labelNames: ['namespace', 'chatcluster'] as const, registers: [this.registry] });
  readonly readyReplicas = new Gauge({ name: 'chatcluster_ready_replicas', help: 'Chat nodes ready', labelNames: ['namespace', 'chatcluster'] as const, registers: [this.registry] });
  readonly leader = new Gauge({ name: 'chatcluster_operator_leader', help: '1 while this operator process is the leader', registers: [this.registry] });

  constructor() {
    // Both results exist from the start: a failure series that appears only with the first
    // failure cannot be alerted on (rate() and absent() see nothing before it).
    for (const result of ['success', 'error'] as const) this.reconciles.inc({ result }, 0);
    collectDefaultMetrics({ register: this.registry });
  }
}
