import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CODES } from './protocol/errors.js';
import { SHED_REASONS } from './server/opening-gate.js';

/**
 * Bounds (s) of the latencies a message meets on its way, from 1 ms to 5 s in steps of about
 * 2.5×: fine enough that a p99 between 100 and 500 ms is read off the buckets to within
 * their width, not guessed across a 5× gap.
 */
const MESSAGE_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The chat node's Prometheus metrics, served on the admin port only. */
export class NodeMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({ name: 'chat_connections', help: 'Open WebSocket connections on this node', registers: [this.registry] });
  readonly messagesReceived = new Counter({
    name: 'chat_messages_received_total',
    help: 'Messages accepted (acked) by this node, by kind (direct, group)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly messagesDelivered = new Counter({
    name: 'chat_messages_delivered_total',
    help: 'Message frames written to sockets of this node, by kind (direct, group)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'chat_delivery_latency_seconds',
    help: 'From a send accepted on any node to the frame written on the recipient socket’s node',
    buckets: MESSAGE_LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly busPublished = new Counter({
    name: 'chat_bus_published_total',
    help: 'Entries this node appended to other nodes’ inboxes',
    registers: [this.registry],
  });
  readonly duplicateEnvelopes = new Counter({
    name: 'chat_bus_duplicates_dropped_total',
    help: 'Inbox entries for a message this node had already delivered (a publish retried after a Redis failover), dropped',
    registers: [this.registry],
  });
  readonly busLag = new Histogram({
    name: 'chat_bus_consumer_lag_seconds',
    help: 'Age of inbox entries when this node processed them',
    // 30 s: ChatBusLagGrowing (dashboards/chatcluster-alerts.rules.yaml) sees a lag stuck at the top bucket.
    buckets: [...MESSAGE_LATENCY_BUCKETS, 30],
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'chat_store_latency_seconds',
    help: 'Store (Cassandra) operation latency, by operation',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'chat_errors_total',
    help: 'Error replies sent to clients, by protocol code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly opensWaiting = new Gauge({
    name: 'chat_socket_opens_waiting',
    help: 'WebSocket upgrades waiting for their turn to open (a node opens a bounded number at once: in arrival order, newest first while the line stands)',
    registers: [this.registry],
  });
  readonly opensShed = new Counter({
    name: 'chat_socket_opens_shed_total',
    help: 'WebSocket upgrades not opened: refused with 503 (queue_full, waited_too_long) or dropped because the client left while waiting (client_gone)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'chat_auth_failures_total',
    help: 'Connections and HTTP requests refused for missing or invalid credentials',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'chat_rate_limited_total',
    help: 'Sends refused by the per-user rate limit',
    registers: [this.registry],
  });
  readonly dependencyUp = new Gauge({
    name: 'chat_dependency_up',
    help: 'Whether the store (cassandra) and the bus (redis) answered this node’s last health check (1) or not (0)',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly messagesInFlight = new Gauge({
    name: 'chat_messages_in_flight',
    help: 'Messages this node accepted and has not finished storing and routing',
    registers: [this.registry],
  });
  readonly storeWritesRetrying = new Gauge({
    name: 'chat_store_writes_retrying',
    help: 'Sends with an idem whose store write failed and are being written again (each holds the sync cursors below it)',
    registers: [this.registry],
  });
  readonly cursorLag = new Gauge({
    name: 'chat_cursor_lag_seconds',
    help: 'How far the sync cursors this node hands out trail its clock (grows while a message anywhere is stuck in flight)',
    registers: [this.registry],
  });
  readonly slowConsumersClosed = new Counter({
    name: 'chat_slow_consumers_closed_total',
    help: 'Sockets closed because their send buffer exceeded the bound',
    registers: [this.registry],
  });

  constructor() {
    // Every error code and shed reason exists from the start, at 0: a series that appears
    // only with its first event is invisible to rate(), dashboards and alerts until then.
    for (const code of ERROR_CODES) this.errors.inc({ code }, 0);
    for (const reason of SHED_REASONS) this.opensShed.inc({ reason }, 0);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Times a store operation into `chat_store_latency_seconds`. */
  async timeStore<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const stop = this.storeLatency.startTimer({ operation });
    try {
      return await work();
    } finally {
      stop();
    }
  }
}
