/**
 * Typed builders for the parts of Grafana's dashboard JSON (schemaVersion 39) that the
 * ChatCluster dashboards use: Prometheus time-series and stat panels, row panels, template
 * variables, and a layout that places panels line by line so they never overlap.
 */

/** Every query reads the data source the `datasource` template variable names. */
export const PROMETHEUS = { type: 'prometheus', uid: '${datasource}' } as const;

/** Grafana's width of a dashboard, in grid columns. */
export const GRID_COLUMNS = 24;

/** The Grafana units the dashboards show (seconds, rates, counts, bytes, ratios). */
export type Unit = 's' | 'ops' | 'reqps' | 'short' | 'bytes' | 'percentunit';

/** One PromQL query of a panel and how the legend names its series. */
export interface Query {
  expr: string;
  legend: string;
}

/** A coloured band of a panel: from `from` upwards (the first band starts at -∞). */
export interface Threshold {
  color: string;
  from: number | null;
}

interface PanelCommon {
  title: string;
  description: string;
  unit: Unit;
  queries: Query[];
  width: number;
  height: number;
}

/** A panel before layout: what it shows and how much room it takes. */
export type PanelSpec =
  | (PanelCommon & { kind: 'timeseries'; min?: number; max?: number; steps: boolean })
  | (PanelCommon & { kind: 'stat'; thresholds: Threshold[]; valueNames?: Record<string, string>; sparkline: boolean });

/** The panels under one row header, as lines of panels placed left to right. */
export interface Section {
  title: string;
  lines: PanelSpec[][];
}

type TimeseriesOptions = Omit<Extract<PanelSpec, { kind: 'timeseries' }>, 'kind' | 'title' | 'steps' | 'width' | 'height'> & {
  steps?: boolean;
  width?: number;
  height?: number;
};
type StatOptions = Omit<Extract<PanelSpec, { kind: 'stat' }>, 'kind' | 'title' | 'sparkline' | 'width' | 'height'> & {
  sparkline?: boolean;
  width?: number;
  height?: number;
};

/** A time-series panel; rates and latencies start their axis at 0 unless told otherwise. */
export function timeseries(title: string, options: TimeseriesOptions): PanelSpec {
  return { kind: 'timeseries', title, steps: false, width: 12, height: 8, ...options };
}

/** A stat panel showing each query's last value, coloured by its thresholds. */
export function stat(title: string, options: StatOptions): PanelSpec {
  return { kind: 'stat', title, sparkline: true, width: 4, height: 4, ...options };
}

/** A template variable of the dashboard. */
export type Variable =
  | { kind: 'datasource'; name: string; label: string }
  | { kind: 'query'; name: string; label: string; query: string; multi: boolean };

/** A data source variable offering every Prometheus data source. */
export function datasourceVariable(): Variable {
  return { kind: 'datasource', name: 'datasource', label: 'Data source' };
}

/** A variable whose values come from a `label_values(...)` query; `multi` adds "All". */
export function queryVariable(name: string, label: string, query: string, multi = false): Variable {
  return { kind: 'query', name, label, query, multi };
}

/** The dashboard as authored: identity, variables and sections. */
export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: Variable[];
  sections: Section[];
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

/** Grafana's JSON of a dashboard, ready to import or to load through the sidecar. */
export function dashboardJson(spec: DashboardSpec): Json {
  return {
    id: null,
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['chatcluster'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    links: [],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: { list: spec.variables.map(variableJson) },
    panels: layout(spec.sections),
  };
}

/**
 * Places each section's row header and then its lines of panels top to bottom, each line
 * left to right, a line as tall as its tallest panel; panel ids follow the reading order.
 */
function layout(sections: Section[]): Json[] {
  const panels: Json[] = [];
  let y = 0;
  const nextId = (): number => panels.length + 1;
  for (const section of sections) {
    panels.push(rowJson(nextId(), section.title, { h: 1, w: GRID_COLUMNS, x: 0, y }));
    y += 1;
    for (const line of section.lines) {
      const width = line.reduce((sum, panel) => sum + panel.width, 0);
      if (width > GRID_COLUMNS) throw new Error(`a line of "${section.title}" is ${width} columns wide, more than ${GRID_COLUMNS}`);
      let x = 0;
      for (const panel of line) {
        panels.push(panelJson(nextId(), panel, { h: panel.height, w: panel.width, x, y }));
        x += panel.width;
      }
      y += Math.max(0, ...line.map((panel) => panel.height));
    }
  }
  return panels;
}

function rowJson(id: number, title: string, gridPos: GridPos): Json {
  return { id, type: 'row', title, collapsed: false, gridPos: { ...gridPos }, panels: [] };
}

function panelJson(id: number, panel: PanelSpec, gridPos: GridPos): Json {
  return {
    id,
    type: panel.kind,
    title: panel.title,
    description: panel.description,
    gridPos: { ...gridPos },
    datasource: { ...PROMETHEUS },
    fieldConfig: { defaults: panel.kind === 'timeseries' ? timeseriesDefaults(panel) : statDefaults(panel), overrides: [] },
    options: panel.kind === 'timeseries' ? timeseriesOptions() : statOptions(panel),
    targets: panel.queries.map((query, index) => ({
      datasource: { ...PROMETHEUS },
      refId: String.fromCharCode('A'.charCodeAt(0) + index),
      editorMode: 'code',
      expr: query.expr,
      legendFormat: query.legend,
      range: true,
    })),
  };
}

function timeseriesDefaults(panel: Extract<PanelSpec, { kind: 'timeseries' }>): Json {
  return {
    unit: panel.unit,
    ...(panel.min === undefined ? {} : { min: panel.min }),
    ...(panel.max === undefined ? {} : { max: panel.max }),
    color: { mode: 'palette-classic' },
    custom: {
      drawStyle: 'line',
      lineInterpolation: panel.steps ? 'stepAfter' : 'linear',
      lineWidth: 1,
      fillOpacity: 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: 'none', group: 'A' },
    },
    thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
  };
}

function timeseriesOptions(): Json {
  return {
    legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
    tooltip: { mode: 'multi', sort: 'desc' },
  };
}

function statDefaults(panel: Extract<PanelSpec, { kind: 'stat' }>): Json {
  const names = Object.entries(panel.valueNames ?? {});
  return {
    unit: panel.unit,
    color: { mode: 'thresholds' },
    thresholds: { mode: 'absolute', steps: panel.thresholds.map((band) => ({ color: band.color, value: band.from })) },
    mappings:
      names.length === 0
        ? []
        : [{ type: 'value', options: Object.fromEntries(names.map(([value, text], index) => [value, { text, index }])) }],
  };
}

function statOptions(panel: Extract<PanelSpec, { kind: 'stat' }>): Json {
  return {
    colorMode: 'value',
    graphMode: panel.sparkline ? 'area' : 'none',
    justifyMode: 'auto',
    orientation: 'auto',
    textMode: 'auto',
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
  };
}

function variableJson(variable: Variable): Json {
  const common = { name: variable.name, label: variable.label, hide: 0, skipUrlSync: false, current: {}, options: [] };
  if (variable.kind === 'datasource') {
    return { ...common, type: 'datasource', query: 'prometheus', regex: '', refresh: 1, includeAll: false, multi: false };
  }
  return {
    ...common,
    type: 'query',
    datasource: { ...PROMETHEUS },
    definition: variable.query,
    query: variable.query,
    regex: '',
    refresh: 2,
    sort: 1,
    includeAll: variable.multi,
    multi: variable.multi,
    ...(variable.multi ? { allValue: '.*' } : {}),
  };
}
