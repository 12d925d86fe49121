import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';

/** One query of one Grafana panel. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** One templating variable of a Grafana dashboard. */
export interface TemplateVariable {
  dashboard: string;
  name: string;
  type: string;
  /** The query of a `query` variable (`label_values(...)`, `query_result(...)`). */
  query: string | undefined;
  multi: boolean;
  includeAll: boolean;
}

/** One rule of a Prometheus rules file. */
export interface PrometheusRule {
  file: string;
  group: string;
  /** `alert` or `record` name. */
  name: string;
  kind: 'alert' | 'record';
  expr: string;
}

/** A Grafana dashboard file, flattened into what a test queries. */
export interface Dashboard {
  file: string;
  title: string;
  queries: PanelQuery[];
  variables: TemplateVariable[];
}

interface GrafanaPanel {
  title?: string;
  type?: string;
  panels?: GrafanaPanel[];
  targets?: { expr?: string; refId?: string }[];
}

interface GrafanaDashboard {
  title?: string;
  panels?: GrafanaPanel[];
  rows?: { panels?: GrafanaPanel[] }[];
  templating?: { list?: { name: string; type: string; query?: string | { query?: string }; multi?: boolean; includeAll?: boolean }[] };
}

/** The files in `dir` whose names end with `suffix`, sorted; none when `dir` does not exist. */
export function filesEndingWith(dir: string, suffix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => name.endsWith(suffix)).sort().map((name) => join(dir, name));
}

/** Every panel (collapsed rows' panels and old-style `rows` included), depth first. */
function panelsOf(dashboard: GrafanaDashboard): GrafanaPanel[] {
  const flatten = (panels: GrafanaPanel[]): GrafanaPanel[] => panels.flatMap((panel) => [panel, ...flatten(panel.panels ?? [])]);
  return flatten([...(dashboard.panels ?? []), ...(dashboard.rows ?? []).flatMap((row) => row.panels ?? [])]);
}

/** Reads a Grafana dashboard: every panel target's `expr` and every templating variable. */
export function readDashboard(file: string): Dashboard {
  const json = JSON.parse(readFileSync(file, 'utf8')) as GrafanaDashboard;
  const title = json.title ?? basename(file);
  const queries = panelsOf(json).flatMap((panel) =>
    (panel.targets ?? []).map((target, index) => ({
      dashboard: title,
      panel: panel.title ?? `(untitled ${panel.type ?? 'panel'})`,
      refId: target.refId ?? String(index),
      expr: target.expr ?? '',
    })),
  );
  const variables = (json.templating?.list ?? []).map((variable) => ({
    dashboard: title,
    name: variable.name,
    type: variable.type,
    query: typeof variable.query === 'string' ? variable.query : variable.query?.query,
    multi: variable.multi ?? false,
    includeAll: variable.includeAll ?? false,
  }));
  return { file, title, queries, variables };
}

/** Reads a Prometheus rules file: every alerting and recording rule. */
export function readRules(file: string): PrometheusRule[] {
  const rules = parse(readFileSync(file, 'utf8')) as { groups?: { name: string; rules?: { alert?: string; record?: string; expr: string | number }[] }[] };
  return (rules.groups ?? []).flatMap((group) =>
    (group.rules ?? []).map((rule) => ({
      file,
      group: group.name,
      name: rule.alert ?? rule.record ?? '(unnamed)',
      kind: rule.alert === undefined ? ('record' as const) : ('alert' as const),
      expr: String(rule.expr),
    })),
  );
}

/**
 * Replaces Grafana's variables in `expr` with `values`: `$name`, `${name}`,
 * `${name:format}` and `[[name]]`, built-ins like `$__rate_interval` included. A variable
 * without a value is left as it is (and the query then fails, naming it).
 */
export function substituteVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g, (whole, braced?: string, bracketed?: string, bare?: string) => {
    const name = braced ?? bracketed ?? bare ?? '';
    return values[name] ?? whole;
  });
}

/** `label_values(selector, label)` or `label_values(label)`, parsed; undefined for other queries. */
export function parseLabelValues(query: string): { selector: string | undefined; label: string } | undefined {
  const match = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)\s*$/s.exec(query);
  if (match === null) return undefined;
  return { selector: match[1], label: match[2] ?? '' };
}

/** `query_result(expr)`, parsed; undefined for other queries. */
export function parseQueryResult(query: string): string | undefined {
  return /^\s*query_result\((.*)\)\s*$/s.exec(query)?.[1];
}
