import { datasourceVariable, queryVariable, stat, timeseries, type DashboardSpec } from './grafana.js';
import { quantile, rate, selector, sumBy } from './promql.js';

/** Every node query is scoped to the ChatCluster picked in the variables. */
const SCOPE = ['namespace="$namespace"', 'chatcluster="$chatcluster"'] as const;

/** A chat node series of the chosen ChatCluster, with extra matchers if any. */
function node(metric: string, ...matchers: string[]): string {
  return selector(metric, [...SCOPE, ...matchers]);
}

/** p50 and p99 of a chat node histogram across the chosen ChatCluster's nodes. */
function medianAndTail(histogram: string): { expr: string; legend: string }[] {
  return [
    { expr: quantile(0.5, histogram, SCOPE, []), legend: 'p50' },
    { expr: quantile(0.99, histogram, SCOPE, []), legend: 'p99' },
  ];
}

const UP_OR_DOWN = { valueNames: { '0': 'down', '1': 'up' }, thresholds: [{ color: 'red', from: null }, { color: 'green', from: 1 }] };

/** One ChatCluster's chat nodes: connections, traffic, latencies, errors, dependencies, resources. */
export const overviewDashboard: DashboardSpec = {
  uid: 'chatcluster-overview',
  title: 'ChatCluster / Overview',
  description: 'The chat nodes of one ChatCluster: connections, messages, delivery and bus latency, errors, dependencies and resources.',
  variables: [
    datasourceVariable(),
    queryVariable('namespace', 'Namespace', 'label_values(chat_connections, namespace)'),
    queryVariable('chatcluster', 'ChatCluster', 'label_values(chat_connections{namespace="$namespace"}, chatcluster)'),
  ],
  sections: [
    {
      title: 'Cluster',
      lines: [
        [
          stat('Nodes up', {
            description: 'Chat node targets Prometheus scraped successfully.',
            unit: 'short',
            queries: [{ expr: sumBy([], node('up')), legend: 'nodes up' }],
            thresholds: [{ color: 'red', from: null }, { color: 'green', from: 1 }],
          }),
          stat('Connections', {
            description: 'Open WebSockets across all nodes.',
            unit: 'short',
            queries: [{ expr: sumBy([], node('chat_connections')), legend: 'connections' }],
            thresholds: [{ color: 'blue', from: null }],
          }),
          stat('Messages in', {
            description: 'Messages accepted (acked) per second, all nodes.',
            unit: 'ops',
            queries: [{ expr: sumBy([], rate(node('chat_messages_received_total'))), legend: 'in' }],
            thresholds: [{ color: 'blue', from: null }],
          }),
          stat('Messages out', {
            description: 'Message frames written to sockets per second, all nodes.',
            unit: 'ops',
            queries: [{ expr: sumBy([], rate(node('chat_messages_delivered_total'))), legend: 'out' }],
            thresholds: [{ color: 'blue', from: null }],
          }),
          stat('Delivery p99', {
            description: 'From a send accepted on any node to the frame written on the recipient’s node; the alert fires above 1 s.',
            unit: 's',
            queries: [{ expr: quantile(0.99, 'chat_delivery_latency_seconds', SCOPE, []), legend: 'p99' }],
            thresholds: [{ color: 'green', from: null }, { color: 'orange', from: 0.5 }, { color: 'red', from: 1 }],
          }),
          stat('Dependencies', {
            description: 'Redis and Cassandra as the worst node sees them (each node checks every 5 s).',
            unit: 'short',
            queries: [{ expr: `min by (dependency) (${node('chat_dependency_up')})`, legend: '{{dependency}}' }],
            sparkline: false,
            ...UP_OR_DOWN,
          }),
        ],
      ],
    },
    {
      title: 'Traffic',
      lines: [
        [
          timeseries('Connections per node', {
            description: 'Open WebSockets on each node; the autoscaler sizes the cluster by their sum.',
            unit: 'short',
            min: 0,
            width: 8,
            queries: [{ expr: sumBy(['pod'], node('chat_connections')), legend: '{{pod}}' }],
          }),
          timeseries('Messages in and out', {
            description: 'In: messages accepted (acked). Out: message frames written to sockets (a group message counts once per recipient socket).',
            unit: 'ops',
            min: 0,
            width: 8,
            queries: [
              { expr: sumBy(['kind'], rate(node('chat_messages_received_total'))), legend: 'in {{kind}}' },
              { expr: sumBy(['kind'], rate(node('chat_messages_delivered_total'))), legend: 'out {{kind}}' },
            ],
          }),
          timeseries('Bus entries published', {
            description: 'Entries each node appended to other nodes’ Redis inboxes, per second.',
            unit: 'ops',
            min: 0,
            width: 8,
            queries: [{ expr: sumBy(['pod'], rate(node('chat_bus_published_total'))), legend: '{{pod}}' }],
          }),
        ],
      ],
    },
    {
      title: 'Latency',
      lines: [
        [
          timeseries('Delivery latency', {
            description: 'From a send accepted on any node to the frame written on the recipient’s node.',
            unit: 's',
            min: 0,
            width: 8,
            queries: medianAndTail('chat_delivery_latency_seconds'),
          }),
          timeseries('Bus lag', {
            description: 'Age of Redis inbox entries when the receiving node processed them.',
            unit: 's',
            min: 0,
            width: 8,
            queries: medianAndTail('chat_bus_consumer_lag_seconds'),
          }),
          timeseries('Store latency p99 by operation', {
            description: 'Cassandra operation latency, 99th percentile, by operation.',
            unit: 's',
            min: 0,
            width: 8,
            queries: [{ expr: quantile(0.99, 'chat_store_latency_seconds', SCOPE, ['operation']), legend: '{{operation}}' }],
          }),
        ],
        [
          timeseries('Sync cursor lag', {
            description: 'How far the cursors handed to clients trail each node’s clock. It grows while a message anywhere is stuck in flight (a slow store, a bus outage, a dead node not yet cleaned up): clients then re-receive more on reconnect, and miss nothing.',
            unit: 's',
            min: 0,
            width: 12,
            queries: [{ expr: sumBy(['pod'], node('chat_cursor_lag_seconds')), legend: '{{pod}}' }],
          }),
          timeseries('Messages in flight', {
            description: 'Messages accepted and not yet stored and routed, per node.',
            unit: 'short',
            min: 0,
            width: 12,
            queries: [{ expr: sumBy(['pod'], node('chat_messages_in_flight')), legend: '{{pod}}' }],
          }),
        ],
      ],
    },
    {
      title: 'Errors and refusals',
      lines: [
        [
          timeseries('Errors by code', {
            description: 'Error replies to clients per second, by protocol code; internal and unavailable are the server’s fault.',
            unit: 'ops',
            min: 0,
            queries: [{ expr: sumBy(['code'], rate(node('chat_errors_total'))), legend: '{{code}}' }],
          }),
          timeseries('Authentication failures', {
            description: 'Connections and HTTP requests refused for missing or invalid credentials, per second.',
            unit: 'ops',
            min: 0,
            queries: [{ expr: sumBy(['pod'], rate(node('chat_auth_failures_total'))), legend: '{{pod}}' }],
          }),
        ],
        [
          timeseries('Rate-limited sends', {
            description: 'Sends refused by the per-user rate limit, per second.',
            unit: 'ops',
            min: 0,
            queries: [{ expr: sumBy(['pod'], rate(node('chat_rate_limited_total'))), legend: '{{pod}}' }],
          }),
          timeseries('Slow consumers closed', {
            description: 'Sockets closed because their send buffer exceeded the bound (their clients re-sync), per second.',
            unit: 'ops',
            min: 0,
            queries: [{ expr: sumBy(['pod'], rate(node('chat_slow_consumers_closed_total'))), legend: '{{pod}}' }],
          }),
        ],
        [
          timeseries('Socket opens waiting', {
            description: 'WebSocket upgrades waiting for their turn: a node opens a bounded number at once, in arrival order, newest first while the line stands (a reconnect storm shows here).',
            unit: 'short',
            min: 0,
            queries: [{ expr: sumBy(['pod'], node('chat_socket_opens_waiting')), legend: '{{pod}}' }],
          }),
          timeseries('Socket opens shed', {
            description: 'Upgrades not opened, per second: refused with 503 and Retry-After (queue_full, waited_too_long; the client comes back) or dropped because the client left while waiting (client_gone).',
            unit: 'ops',
            min: 0,
            queries: [{ expr: sumBy(['reason'], rate(node('chat_socket_opens_shed_total'))), legend: '{{reason}}' }],
          }),
        ],
      ],
    },
    {
      title: 'Nodes and dependencies',
      lines: [
        [
          timeseries('Nodes up', {
            description: 'Whether Prometheus scraped each node (1) or not (0).',
            unit: 'short',
            min: 0,
            max: 1,
            steps: true,
            width: 8,
            queries: [{ expr: node('up'), legend: '{{pod}}' }],
          }),
          timeseries('Dependencies up by node', {
            description: 'Whether each node reaches Redis and Cassandra (1) or not (0), from its own health check every 5 s.',
            unit: 'short',
            min: 0,
            max: 1,
            steps: true,
            width: 8,
            queries: [{ expr: node('chat_dependency_up'), legend: '{{pod}} {{dependency}}' }],
          }),
          timeseries('Event loop lag p99', {
            description: 'Node.js event loop delay, 99th percentile, per node: a busy loop delays every socket on it.',
            unit: 's',
            min: 0,
            width: 8,
            queries: [{ expr: node('nodejs_eventloop_lag_p99_seconds'), legend: '{{pod}}' }],
          }),
        ],
        [
          timeseries('CPU per node', {
            description: 'CPU time per second of each node process (100% is one core).',
            unit: 'percentunit',
            min: 0,
            queries: [{ expr: sumBy(['pod'], rate(node('process_cpu_seconds_total'))), legend: '{{pod}}' }],
          }),
          timeseries('Memory per node', {
            description: 'Resident memory and V8 heap in use of each node process.',
            unit: 'bytes',
            min: 0,
            queries: [
              { expr: sumBy(['pod'], node('process_resident_memory_bytes')), legend: '{{pod}} resident' },
              { expr: sumBy(['pod'], node('nodejs_heap_size_used_bytes')), legend: '{{pod}} heap used' },
            ],
          }),
        ],
      ],
    },
  ],
};
