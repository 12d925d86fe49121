/**
 * The dashboards and alert rules under dashboards/ against real data: a real Prometheus
 * scrapes three chat node processes (on the environment's Redis and Cassandra) under light
 * traffic, and the operator managing a ChatCluster on the real control plane, labelled as
 * the operator's ServiceMonitor labels them in a cluster (namespace, chatcluster, pod).
 * Every panel query, every template variable and every rule is then asked of that
 * Prometheus: a query that errs, or a panel that shows nothing, fails here and not on
 * somebody's screen. The dashboards and rules are discovered, not listed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { runLightTraffic, type TrafficTally } from '../support/chat-traffic.js';
import {
  filesEndingWith,
  parseLabelValues,
  parseQueryResult,
  readDashboard,
  readRules,
  substituteVariables,
  type Dashboard,
  type TemplateVariable,
} from '../support/dashboards.js';
import { testEnvironment } from '../support/env.js';
import { adminKubeConfig, createTestNamespace } from '../support/kubernetes.js';
import { stopNode } from '../../dev/node-processes.js';
import { grantOperatorAccess, type OperatorAccess } from '../support/operator-access.js';
import { ChatClusters, EXTERNAL_DEPENDENCIES, installChatClusterCrd } from '../support/operator-chatclusters.js';
import { startOperator, stopAllOperators, type OperatorProcess } from '../support/operator-process.js';
import { promtool, startPrometheus, vectorOf, type PrometheusServer, type QueryData } from '../support/prometheus.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARDS_DIR = join(REPO_ROOT, 'dashboards');

/** Grafana dashboards: every `dashboards/*.json` that is one (it has a `schemaVersion`). */
const dashboards: Dashboard[] = filesEndingWith(DASHBOARDS_DIR, '.json')
  .filter((file) => 'schemaVersion' in (JSON.parse(readFileSync(file, 'utf8')) as object))
  .map(readDashboard);
const ruleFiles = [...filesEndingWith(DASHBOARDS_DIR, '.rules.yaml'), ...filesEndingWith(DASHBOARDS_DIR, '.rules.yml')];
const rules = ruleFiles.flatMap(readRules);
const ruleTestFiles = filesEndingWith(join(DASHBOARDS_DIR, 'tests'), '.yaml');

/** Nodes this test starts: three, like a small ChatCluster. */
const NODES = 3;
/** The per-user rate limit of these nodes: low, so a small burst is refused. */
const MESSAGES_PER_SECOND = 5;
const TRAFFIC_MS = 30_000;
/**
 * What Grafana would put for its built-in variables. Scrapes are 1 s apart, so a 1 m
 * `$__rate_interval` is well over four scrapes and covers all of the traffic.
 */
const BUILT_INS: Record<string, string> = {
  __rate_interval: '1m',
  __rate_interval_ms: '60000',
  __interval: '10s',
  __interval_ms: '10000',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
};

const unique = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;
const relativeToRepo = (file: string): string => relative(REPO_ROOT, file);

/** What a query answered, short enough for an assertion message. */
function describeAnswer(answer: Awaited<ReturnType<PrometheusServer['query']>>): string {
  if (answer.status !== 'success') return `${answer.errorType}: ${answer.error}`;
  return `${answer.data.resultType} ${JSON.stringify(answer.data.result).slice(0, 300)}`;
}

/** Whether a successful answer has something to draw: samples, or a scalar. */
function resultSize(data: QueryData): number {
  return data.resultType === 'vector' || data.resultType === 'matrix' ? data.result.length : 1;
}

describe('the dashboards and alert rules on a real Prometheus scraping real nodes and the operator', () => {
  const env = testEnvironment();
  const clusterName = unique('observed');
  let admin: KubeConfig;
  let dir: string | undefined;
  let access: OperatorAccess | undefined;
  let chatNamespace: string;
  let operatorNamespace: string;
  let operator: OperatorProcess;
  let chat: ChatCluster | undefined;
  let prometheus: PrometheusServer | undefined;
  let traffic: TrafficTally;
  const namespaces: { name: string; delete(): Promise<void> }[] = [];
  /** Per dashboard title: the value each template variable was set to, as a user would pick it. */
  const chosen = new Map<string, Record<string, string>>();

  const server = (): PrometheusServer => {
    if (prometheus === undefined) throw new Error('Prometheus did not start');
    return prometheus;
  };
  const nodes = () => {
    if (chat === undefined) throw new Error('the chat nodes did not start');
    return chat.nodes;
  };

  /**
   * Evaluates a template variable's query with the variables before it substituted; its
   * values, or an error naming what went wrong.
   */
  const variableValues = async (variable: TemplateVariable, values: Record<string, string>): Promise<string[]> => {
    const query = substituteVariables(variable.query ?? '', values);
    const labelValues = parseLabelValues(query);
    if (labelValues !== undefined) {
      const answer = await server().api<string[]>(
        `/api/v1/label/${encodeURIComponent(labelValues.label)}/values`,
        labelValues.selector === undefined ? {} : { 'match[]': labelValues.selector },
      );
      if (answer.status !== 'success') throw new Error(`${query}: ${answer.errorType}: ${answer.error}`);
      return answer.data;
    }
    const expr = parseQueryResult(query);
    if (expr !== undefined) return vectorOf(query, await server().query(expr)).map((sample) => JSON.stringify(sample.metric));
    throw new Error(`variable ${variable.name}: a query this test does not know how to evaluate: ${query}`);
  };

  beforeAll(async () => {
    admin = adminKubeConfig(env);
    dir = mkdtempSync(join(tmpdir(), 'chatcluster-observability-test-'));
    const [operatorNs, chatNs] = await Promise.all([createTestNamespace(admin, 'chatobs-op'), createTestNamespace(admin, 'chatobs')]);
    namespaces.push(operatorNs, chatNs);
    operatorNamespace = operatorNs.name;
    chatNamespace = chatNs.name;

    const startOperatorWithCluster = async (): Promise<void> => {
      access = await grantOperatorAccess(admin, operatorNamespace, dir ?? '');
      await installChatClusterCrd(admin, env.processEnv, operatorNamespace);
      operator = await startOperator({ kubeconfig: access.kubeconfig, leaseNamespace: operatorNamespace, watchNamespace: chatNamespace, identity: unique('chatcluster-operator') });
      const clusters = new ChatClusters(admin, chatNamespace);
      await clusters.create(clusterName, { ...EXTERNAL_DEPENDENCIES, autoscaling: { enabled: false }, replicas: NODES });
      await clusters.waitForReady(clusterName, 120_000);
    };
    const startNodes = async (): Promise<void> => {
      chat = await startChatCluster(env, NODES, { CHAT_MESSAGES_PER_SECOND: String(MESSAGES_PER_SECOND), LOG_LEVEL: 'warn' });
    };
    await Promise.all([startOperatorWithCluster(), startNodes()]);

    // What the operator's ServiceMonitor makes of the nodes in a cluster: job and service
    // are the headless Service, `chatcluster` is relabelled from its instance label.
    const nodesService = `${clusterName}-chat-nodes`;
    prometheus = await startPrometheus({
      scrapeConfigs: [
        {
          job_name: nodesService,
          static_configs: nodes().map((node) => ({
            targets: [new URL(node.adminUrl).host],
            labels: { namespace: chatNamespace, chatcluster: clusterName, pod: node.id, service: nodesService, endpoint: 'admin' },
          })),
        },
        {
          job_name: 'chatcluster-operator',
          honor_labels: true,
          static_configs: [{ targets: [new URL(operator.healthUrl).host], labels: { namespace: operatorNamespace, pod: operator.identity } }],
        },
      ],
      ruleFiles,
    });
    await vi.waitFor(async () => {
      const targets = await server().targets();
      expect(targets.map((target) => `${target.scrapePool} ${target.health} ${target.lastError}`).sort()).toEqual(
        [...nodes().map(() => `${nodesService} up `), 'chatcluster-operator up '].sort(),
      );
    }, { timeout: 30_000, interval: 250 });

    traffic = await runLightTraffic(nodes(), TRAFFIC_MS, MESSAGES_PER_SECOND, unique('obs'));
    // Two more scrapes, so the last of the traffic is in.
    await sleep(2500);

    // Set each dashboard's variables in order, as Grafana does on load: the expected
    // namespace and ChatCluster when offered, otherwise the first value.
    const expected: Record<string, string> = { namespace: chatNamespace, chatcluster: clusterName };
    for (const dashboard of dashboards) {
      const values: Record<string, string> = { ...BUILT_INS };
      for (const variable of dashboard.variables.filter((candidate) => candidate.type === 'query')) {
        const offered = await variableValues(variable, values).catch((): string[] => []);
        const pick = expected[variable.name];
        values[variable.name] = pick !== undefined && offered.includes(pick) ? pick : (offered[0] ?? pick ?? '');
      }
      chosen.set(dashboard.title, values);
    }
  }, 300_000);

  afterAll(async () => {
    await prometheus?.stop();
    await stopAllOperators();
    await chat?.stop();
    await access?.revoke();
    await Promise.all(namespaces.map((namespace) => namespace.delete().catch(() => undefined)));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the Grafana dashboards and Prometheus rule files in dashboards/', () => {
    expect(dashboards.map((dashboard) => relativeToRepo(dashboard.file)), 'no Grafana dashboard (dashboards/*.json with a schemaVersion)').not.toEqual([]);
    expect(ruleFiles.map(relativeToRepo), 'no rules file (dashboards/*.rules.yaml)').not.toEqual([]);
    for (const dashboard of dashboards) expect(dashboard.queries.length, `${dashboard.title}: panel queries`).toBeGreaterThan(0);
    expect(rules.length, 'rules in the rules files').toBeGreaterThan(0);
  });

  it('ran traffic that exercised what the dashboards chart: messages, refusals, errors', () => {
    expect(traffic.direct).toBeGreaterThan(20);
    expect(traffic.group).toBeGreaterThan(10);
    expect(traffic.delivered).toBeGreaterThanOrEqual(traffic.direct + 2 * traffic.group);
    expect(traffic.historyReads).toBeGreaterThan(10);
    expect(traffic.authFailures).toBeGreaterThanOrEqual(NODES);
    expect(traffic.forbidden).toBeGreaterThan(0);
    expect(traffic.rateLimited).toBeGreaterThan(0);
  });

  it('scraped every node with the ServiceMonitor’s labels, and the operator with its per-ChatCluster gauges', async () => {
    const up = vectorOf('up', await server().query(`up{namespace="${chatNamespace}", chatcluster="${clusterName}"}`));
    expect(up.map((sample) => [sample.metric.pod, sample.value[1]]).sort()).toEqual(nodes().map((node) => [node.id, '1']).sort());
    const counted = async (expr: string): Promise<number> => Number(vectorOf(expr, await server().query(expr))[0]?.value[1] ?? 0);
    const selector = `namespace="${chatNamespace}", chatcluster="${clusterName}"`;
    expect(await counted(`sum(chat_auth_failures_total{${selector}})`)).toBe(traffic.authFailures);
    expect(await counted(`sum(chat_rate_limited_total{${selector}})`)).toBe(traffic.rateLimited);
    expect(await counted(`sum(chat_errors_total{${selector}, code="forbidden"})`)).toBe(traffic.forbidden);
    expect(await counted(`sum(chat_messages_received_total{${selector}, kind="group"})`)).toBe(traffic.group);
    const replicas = vectorOf('replicas', await server().query(`{__name__=~"chatcluster_(desired|ready)_replicas"}`));
    expect(replicas.map((sample) => [sample.metric.__name__, sample.metric.namespace, sample.metric.chatcluster, sample.metric.pod, sample.value[1]]).sort()).toEqual(
      [
        ['chatcluster_desired_replicas', chatNamespace, clusterName, operator.identity, String(NODES)],
        ['chatcluster_ready_replicas', chatNamespace, clusterName, operator.identity, String(NODES)],
      ],
    );
  });

  describe.each(dashboards.map((dashboard) => [dashboard.title, dashboard] as const))('dashboard “%s”', (_title, dashboard) => {
    const variables = dashboard.variables.filter((variable) => variable.type === 'query');
    if (variables.length > 0) {
      it.each(variables.map((variable) => [variable.name, variable] as const))('offers the expected choices for variable $%s', async (name, variable) => {
        const values = chosen.get(dashboard.title) ?? {};
        const offered = await variableValues(variable, values);
        const what = `${dashboard.title}: variable ${name} (${variable.query ?? ''})`;
        if (name === 'namespace') expect(offered, what).toEqual([chatNamespace]);
        else if (name === 'chatcluster') expect(offered, what).toEqual([clusterName]);
        else expect(offered.length, what).toBeGreaterThan(0);
      });
    }

    it.each(dashboard.queries.map((query) => [`${query.panel} [${query.refId}]`, query] as const))('panel %s answers with data', async (_name, query) => {
      const values = chosen.get(dashboard.title) ?? {};
      const expr = substituteVariables(query.expr, values);
      const what = `${dashboard.title} › panel “${query.panel}” [${query.refId}]: ${expr}`;
      expect(query.expr.trim(), `${what}: empty expr`).not.toBe('');
      expect(expr, `${what}: a variable left unset`).not.toMatch(/\$\{?\w|\[\[\w/);
      const answer = await server().query(expr);
      expect(answer.status, `${what}: ${describeAnswer(answer)}`).toBe('success');
      if (answer.status !== 'success') return;
      expect(resultSize(answer.data), `${what}: no data (${describeAnswer(answer)})`).toBeGreaterThan(0);
    });
  });

  describe('the rules', () => {
    it.each(rules.map((rule) => [`${relativeToRepo(rule.file)} › ${rule.group} › ${rule.kind} ${rule.name}`, rule] as const))('%s is a valid query, and an alert is silent for this healthy cluster', async (name, rule) => {
      const answer = await server().query(rule.expr);
      expect(answer.status, `${name}: ${rule.expr}: ${describeAnswer(answer)}`).toBe('success');
      if (rule.kind === 'alert') expect(vectorOf(rule.expr, answer), `${name} would fire: ${rule.expr}`).toEqual([]);
    });

    it('are loaded by Prometheus, every group evaluated and healthy, no alert pending or firing', async () => {
      const expectedGroups = new Set(rules.map((rule) => `${rule.file} ${rule.group}`));
      await vi.waitFor(async () => {
        const groups = await server().ruleGroups();
        expect(groups.map((group) => `${group.file} ${group.name}`).sort()).toEqual([...expectedGroups].sort());
        for (const group of groups) {
          for (const rule of group.rules) {
            const what = `${relativeToRepo(group.file)} › ${group.name} › ${rule.name}`;
            expect(Date.parse(rule.lastEvaluation), `${what}: not evaluated yet`).toBeGreaterThan(Date.parse('2000-01-01'));
            expect(rule.health, `${what}: ${rule.lastError ?? ''}`).toBe('ok');
          }
        }
      }, { timeout: 90_000, interval: 500 });
      const alerts = await server().api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
      if (alerts.status !== 'success') throw new Error(`/api/v1/alerts: ${alerts.error}`);
      expect(alerts.data.alerts.map((alert) => `${alert.labels.alertname ?? ''} ${alert.state} ${JSON.stringify(alert.labels)}`)).toEqual([]);
    }, 120_000);

    it.each(ruleFiles.map((file) => [relativeToRepo(file)] as const))('promtool check rules %s passes', async (file) => {
      const checked = await promtool(['check', 'rules', file], REPO_ROOT);
      expect(checked.code, checked.output).toBe(0);
    });

    it.each(ruleTestFiles.map((file) => [relativeToRepo(file)] as const))('promtool test rules %s passes', async (file) => {
      const tested = await promtool(['test', 'rules', file], REPO_ROOT);
      expect(tested.code, tested.output).toBe(0);
    });
  });

  it('promtool check config accepts the scrape configuration', async () => {
    const checked = await promtool(['check', 'config', server().configFile]);
    expect(checked.code, checked.output).toBe(0);
  });

  // Last: it stops a node.
  it('ChatNodeDown names the node that crashed', async () => {
    const nodeDown = rules.find((rule) => rule.kind === 'alert' && rule.name === 'ChatNodeDown');
    if (nodeDown === undefined) throw new Error(`no ChatNodeDown alert in ${ruleFiles.map(relativeToRepo).join(', ')}`);
    const victim = nodes()[NODES - 1];
    if (victim === undefined) throw new Error('no node to stop');
    expect(vectorOf(nodeDown.expr, await server().query(nodeDown.expr))).toEqual([]);
    await stopNode(victim, 'SIGKILL');
    await vi.waitFor(async () => {
      const down = vectorOf(nodeDown.expr, await server().query(nodeDown.expr));
      expect(down.map((sample) => [sample.metric.namespace, sample.metric.chatcluster, sample.metric.pod])).toEqual([[chatNamespace, clusterName, victim.id]]);
    }, { timeout: 20_000, interval: 250 });
  });
});
