import { dashboardJson, type DashboardSpec } from './grafana.js';
import { operatorDashboard } from './operator.js';
import { overviewDashboard } from './overview.js';

/** Each dashboard and the file under `dashboards/` it is committed as. */
export const DASHBOARDS: readonly { file: string; spec: DashboardSpec }[] = [
  { file: 'chatcluster-overview.json', spec: overviewDashboard },
  { file: 'chatcluster-operator.json', spec: operatorDashboard },
];

/** The exact text of a dashboard file: two-space indented JSON and a final newline. */
export function renderDashboard(spec: DashboardSpec): string {
  return `${JSON.stringify(dashboardJson(spec), null, 2)}\n`;
}
