/**
 * The Grafana dashboards and the Prometheus alert rules under dashboards/, checked without
 * servers: the committed JSON is what the generator writes, it is importable and laid out
 * without overlap, every query is scoped and uses only defined variables, and every alert
 * is complete and exercised by a promtool case that makes it fire.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DASHBOARDS, renderDashboard } from '../../dashboards/src/dashboards.js';

const DIRECTORY = new URL('../../dashboards/', import.meta.url);

/** Grafana's built-in variables the dashboards may use in queries. */
const BUILT_IN_VARIABLES = new Set(['__rate_interval', '__interval', '__range']);

const Target = z.object({
  refId: z.string().min(1),
  expr: z.string().min(1),
  legendFormat: z.string(),
  datasource: z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') }),
});
const GridPos = z.object({ h: z.number().int().positive(), w: z.number().int().positive(), x: z.number().int().min(0), y: z.number().int().min(0) });
const Row = z.object({ type: z.literal('row'), id: z.number(), title: z.string(), gridPos: GridPos, collapsed: z.literal(false), panels: z.array(z.unknown()).length(0) });
const Panel = z.object({
  type: z.enum(['timeseries', 'stat']),
  id: z.number(),
  title: z.string().min(1),
  gridPos: GridPos,
  datasource: z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') }),
  fieldConfig: z.object({ defaults: z.object({ unit: z.enum(['s', 'ops', 'reqps', 'short', 'bytes', 'percentunit']) }) }),
  targets: z.array(Target).min(1),
});
const Variable = z.object({ name: z.string(), type: z.enum(['datasource', 'query']), query: z.string() });
const Dashboard = z.object({
  id: z.null(),
  uid: z.string().min(1),
  title: z.string().min(1),
  schemaVersion: z.literal(39),
  tags: z.array(z.string()).refine((tags) => tags.includes('chatcluster')),
  templating: z.object({ list: z.array(Variable) }),
  panels: z.array(z.union([Row, Panel])),
});
type Dashboard = z.infer<typeof Dashboard>;
type Panel = z.infer<typeof Panel>;

const Alert = z.object({
  alert: z.string().min(1),
  expr: z.string().min(1),
  for: z.string().regex(/^\d+[smh]$/),
  labels: z.object({ severity: z.enum(['warning', 'critical']) }),
  annotations: z.object({ summary: z.string().min(1), description: z.string().min(1) }),
});
const RulesFile = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(z.record(z.string(), z.unknown())).min(1) })).min(1) });
const RulesTestFile = z.object({
  rule_files: z.array(z.string()),
  tests: z.array(z.object({ alert_rule_test: z.array(z.object({ alertname: z.string(), exp_alerts: z.array(z.unknown()) })) })),
});

function dashboardFiles(): string[] {
  return readdirSync(DIRECTORY).filter((file) => file.endsWith('.json')).sort();
}

function readDashboard(file: string): Dashboard {
  return Dashboard.parse(JSON.parse(readFileSync(new URL(file, DIRECTORY), 'utf8')));
}

function queryPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.filter((panel): panel is Panel => panel.type !== 'row');
}

function expressions(dashboard: Dashboard): string[] {
  return queryPanels(dashboard).flatMap((panel) => panel.targets.map((target) => target.expr));
}

/** The names of the `$name` and `${name}` references in a text. */
function variablesIn(text: string): string[] {
  return [...text.matchAll(/\$\{?(\w+)\}?/g)].map((match) => match[1] ?? '');
}

function overlaps(a: z.infer<typeof GridPos>, b: z.infer<typeof GridPos>): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

describe('the dashboards', () => {
  it('are exactly what `npm run dashboards` writes, one file each', () => {
    expect(dashboardFiles()).toEqual(DASHBOARDS.map((dashboard) => dashboard.file).sort());
    for (const { file, spec } of DASHBOARDS) {
      expect(readFileSync(new URL(file, DIRECTORY), 'utf8'), `${file} is stale: run npm run dashboards`).toBe(renderDashboard(spec));
    }
  });

  it('are importable Grafana JSON with unique uids and panel ids', () => {
    const dashboards = dashboardFiles().map(readDashboard);
    expect(new Set(dashboards.map((dashboard) => dashboard.uid)).size).toBe(dashboards.length);
    for (const dashboard of dashboards) {
      const ids = dashboard.panels.map((panel) => panel.id);
      expect(new Set(ids).size, dashboard.uid).toBe(ids.length);
      for (const panel of queryPanels(dashboard)) {
        const refIds = panel.targets.map((target) => target.refId);
        expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      }
    }
  });

  it('lay their panels out inside the grid without overlap', () => {
    for (const dashboard of dashboardFiles().map(readDashboard)) {
      const placed = dashboard.panels.map((panel) => ({ title: panel.title, gridPos: panel.gridPos }));
      for (const [index, panel] of placed.entries()) {
        expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
        for (const other of placed.slice(index + 1)) {
          expect(overlaps(panel.gridPos, other.gridPos), `${panel.title} overlaps ${other.title}`).toBe(false);
        }
      }
    }
  });

  it('use only variables they define or Grafana provides', () => {
    for (const dashboard of dashboardFiles().map(readDashboard)) {
      const defined = new Set([...BUILT_IN_VARIABLES, ...dashboard.templating.list.map((variable) => variable.name)]);
      expect(defined.has('datasource'), dashboard.uid).toBe(true);
      const texts = [...expressions(dashboard), ...dashboard.templating.list.map((variable) => variable.query)];
      for (const text of texts) {
        for (const name of variablesIn(text)) expect(defined.has(name), `$${name} in ${text}`).toBe(true);
      }
    }
  });

  it('take every rate over $__rate_interval', () => {
    for (const dashboard of dashboardFiles().map(readDashboard)) {
      for (const expr of expressions(dashboard)) {
        for (const [range] of expr.matchAll(/\[[^\]]*\]/g)) expect(range, expr).toBe('[$__rate_interval]');
      }
    }
  });

  it('scope every chat node series to the chosen namespace and ChatCluster', () => {
    const overview = readDashboard('chatcluster-overview.json');
    expect(overview.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'namespace', 'chatcluster']);
    for (const expr of expressions(overview)) {
      const series = [...expr.matchAll(/\b(up|chat_\w+|process_\w+|nodejs_\w+)(.?)/g)];
      expect(series.length, expr).toBeGreaterThan(0);
      for (const [, , next] of series) expect(next, expr).toBe('{');
      expect(expr.split('{namespace="$namespace", chatcluster="$chatcluster"').length - 1, expr).toBe(series.length);
    }
  });

  it('scope the per-ChatCluster operator gauges to the chosen namespace and ChatClusters', () => {
    const operator = readDashboard('chatcluster-operator.json');
    const perCluster = expressions(operator).filter((expr) => /chatcluster_(desired|ready)_replicas/.test(expr));
    expect(perCluster.length).toBeGreaterThan(0);
    for (const expr of perCluster) {
      for (const [, next] of expr.matchAll(/chatcluster_(?:desired|ready)_replicas(.{0,60})/g)) {
        expect(next, expr).toMatch(/^\{namespace="\$namespace", chatcluster=~"\$chatcluster"\}/);
      }
    }
  });
});

describe('the alert rules', () => {
  const rules = RulesFile.parse(parse(readFileSync(new URL('chatcluster-alerts.rules.yaml', DIRECTORY), 'utf8')));
  const alerts = rules.groups.flatMap((group) => group.rules.filter((rule) => 'alert' in rule));

  it('each have a for, a severity, a summary and a description, under a unique name', () => {
    expect(alerts.length).toBeGreaterThan(0);
    const names = alerts.map((rule) => Alert.parse(rule).alert);
    expect(new Set(names).size).toBe(names.length);
  });

  it('each fire in a promtool test case', () => {
    const tests = RulesTestFile.parse(parse(readFileSync(new URL('tests/chatcluster-alerts.test.yaml', DIRECTORY), 'utf8')));
    expect(tests.rule_files).toEqual(['../chatcluster-alerts.rules.yaml']);
    const firing = new Set(
      tests.tests.flatMap((test) => test.alert_rule_test.filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)),
    );
    expect([...firing].sort()).toEqual(alerts.map((rule) => Alert.parse(rule).alert).sort());
  });
});
