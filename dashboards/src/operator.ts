import { datasourceVariable, queryVariable, stat, timeseries, type DashboardSpec } from './grafana.js';
import { quantile, rate, selector, sumBy } from './promql.js';

/** The per-ChatCluster gauges, scoped to the namespace and ChatClusters picked. */
const CLUSTER_SCOPE = ['namespace="$namespace"', 'chatcluster=~"$chatcluster"'] as const;

/**
 * A gauge per ChatCluster; `max` folds the copies every operator replica may export
 * (and a scrape's target labels) into one series per ChatCluster.
 */
function perChatCluster(metric: string, labels: readonly string[] = ['namespace', 'chatcluster']): string {
  return `max by (${labels.join(', ')}) (${selector(metric, CLUSTER_SCOPE)})`;
}

/** The operator's own process series: its targets are the ones exporting the leader gauge. */
function operatorProcess(expr: string): string {
  return `${expr} and on (job, instance) chatcluster_operator_leader`;
}

/** The operator: reconciles, work queue, API writes, leadership, and desired vs ready nodes. */
export const operatorDashboard: DashboardSpec = {
  uid: 'chatcluster-operator',
  title: 'ChatCluster / Operator',
  description: 'The ChatCluster operator: reconciles, work queue, API writes, leader election, and desired vs ready chat nodes per ChatCluster.',
  variables: [
    datasourceVariable(),
    queryVariable('namespace', 'Namespace', 'label_values(chatcluster_desired_replicas, namespace)'),
    queryVariable('chatcluster', 'ChatCluster', 'label_values(chatcluster_desired_replicas{namespace="$namespace"}, chatcluster)', true),
  ],
  sections: [
    {
      title: 'Operator',
      lines: [
        [
          stat('Leaders', {
            description: 'Operator processes holding the Lease: exactly 1 is healthy; 0 means nothing reconciles.',
            unit: 'short',
            queries: [{ expr: 'sum(chatcluster_operator_leader)', legend: 'leaders' }],
            thresholds: [{ color: 'red', from: null }, { color: 'green', from: 1 }, { color: 'red', from: 2 }],
          }),
          stat('Reconciles', {
            description: 'Reconciles per second, all results.',
            unit: 'ops',
            queries: [{ expr: sumBy([], rate('chatcluster_operator_reconciles_total')), legend: 'reconciles' }],
            thresholds: [{ color: 'blue', from: null }],
          }),
          stat('Reconcile errors', {
            description: 'Reconciles that failed, per second (each is retried with back-off).',
            unit: 'ops',
            queries: [{ expr: sumBy([], rate('chatcluster_operator_reconciles_total{result="error"}')), legend: 'errors' }],
            thresholds: [{ color: 'green', from: null }, { color: 'red', from: 0.001 }],
          }),
          stat('Reconcile p99', {
            description: 'Reconcile duration, 99th percentile.',
            unit: 's',
            queries: [{ expr: quantile(0.99, 'chatcluster_operator_reconcile_duration_seconds', [], []), legend: 'p99' }],
            thresholds: [{ color: 'green', from: null }, { color: 'orange', from: 5 }, { color: 'red', from: 30 }],
          }),
          stat('Work-queue depth', {
            description: 'ChatClusters waiting to be reconciled.',
            unit: 'short',
            queries: [{ expr: 'sum(chatcluster_operator_workqueue_depth)', legend: 'depth' }],
            thresholds: [{ color: 'green', from: null }, { color: 'orange', from: 10 }],
          }),
          stat('API writes', {
            description: 'Writes to the Kubernetes API per second (none at steady state).',
            unit: 'reqps',
            queries: [{ expr: sumBy([], rate('chatcluster_operator_api_writes_total')), legend: 'writes' }],
            thresholds: [{ color: 'blue', from: null }],
          }),
        ],
      ],
    },
    {
      title: 'Reconciles',
      lines: [
        [
          timeseries('Reconciles by result', {
            description: 'Reconciles per second, by result.',
            unit: 'ops',
            min: 0,
            width: 8,
            queries: [{ expr: sumBy(['result'], rate('chatcluster_operator_reconciles_total')), legend: '{{result}}' }],
          }),
          timeseries('Reconcile errors', {
            description: 'Failed reconciles per second, by operator pod; the operator’s Events and log say why.',
            unit: 'ops',
            min: 0,
            width: 8,
            queries: [{ expr: sumBy(['namespace', 'pod'], rate('chatcluster_operator_reconciles_total{result="error"}')), legend: '{{namespace}}/{{pod}}' }],
          }),
          timeseries('Reconcile duration', {
            description: 'Time one reconcile takes, p50 and p99.',
            unit: 's',
            min: 0,
            width: 8,
            queries: [
              { expr: quantile(0.5, 'chatcluster_operator_reconcile_duration_seconds', [], []), legend: 'p50' },
              { expr: quantile(0.99, 'chatcluster_operator_reconcile_duration_seconds', [], []), legend: 'p99' },
            ],
          }),
        ],
      ],
    },
    {
      title: 'Work queue, API writes and leadership',
      lines: [
        [
          timeseries('Work-queue depth', {
            description: 'ChatClusters waiting to be reconciled, by operator pod.',
            unit: 'short',
            min: 0,
            width: 8,
            queries: [{ expr: sumBy(['namespace', 'pod'], 'chatcluster_operator_workqueue_depth'), legend: '{{namespace}}/{{pod}}' }],
          }),
          timeseries('API writes by verb and kind', {
            description: 'Writes to the Kubernetes API per second, by verb and object kind.',
            unit: 'reqps',
            min: 0,
            width: 8,
            queries: [{ expr: sumBy(['verb', 'kind'], rate('chatcluster_operator_api_writes_total')), legend: '{{verb}} {{kind}}' }],
          }),
          timeseries('Leader', {
            description: 'Which operator pod holds the Lease (1).',
            unit: 'short',
            min: 0,
            max: 1,
            steps: true,
            width: 8,
            queries: [{ expr: sumBy(['namespace', 'pod'], 'chatcluster_operator_leader'), legend: '{{namespace}}/{{pod}}' }],
          }),
        ],
      ],
    },
    {
      title: 'ChatClusters',
      lines: [
        [
          timeseries('Desired and ready nodes', {
            description: 'Chat nodes the operator wants (autoscaler or spec.replicas) and chat nodes ready, per ChatCluster.',
            unit: 'short',
            min: 0,
            steps: true,
            width: 16,
            queries: [
              { expr: perChatCluster('chatcluster_desired_replicas'), legend: '{{chatcluster}} desired' },
              { expr: perChatCluster('chatcluster_ready_replicas'), legend: '{{chatcluster}} ready' },
            ],
          }),
          stat('Ready of desired', {
            description: 'Ready chat nodes as a share of the desired ones, per ChatCluster.',
            unit: 'percentunit',
            width: 8,
            height: 8,
            queries: [
              {
                expr: `${perChatCluster('chatcluster_ready_replicas', ['chatcluster'])} / (${perChatCluster('chatcluster_desired_replicas', ['chatcluster'])} > 0)`,
                legend: '{{chatcluster}}',
              },
            ],
            thresholds: [{ color: 'red', from: null }, { color: 'orange', from: 0.5 }, { color: 'green', from: 1 }],
          }),
        ],
      ],
    },
    {
      title: 'Operator process',
      lines: [
        [
          timeseries('Operator CPU', {
            description: 'CPU time per second of each operator process (100% is one core).',
            unit: 'percentunit',
            min: 0,
            queries: [{ expr: sumBy(['namespace', 'pod'], operatorProcess(rate('process_cpu_seconds_total'))), legend: '{{namespace}}/{{pod}}' }],
          }),
          timeseries('Operator memory', {
            description: 'Resident memory of each operator process.',
            unit: 'bytes',
            min: 0,
            queries: [{ expr: sumBy(['namespace', 'pod'], operatorProcess('process_resident_memory_bytes')), legend: '{{namespace}}/{{pod}}' }],
          }),
        ],
      ],
    },
  ],
};
