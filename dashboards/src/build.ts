/** Writes the dashboard JSON files from their TypeScript definitions: `npm run dashboards`. */
import { writeFileSync } from 'node:fs';
import { DASHBOARDS, renderDashboard } from './dashboards.js';

for (const { file, spec } of DASHBOARDS) {
  const target = new URL(`../${file}`, import.meta.url);
  writeFileSync(target, renderDashboard(spec));
  console.log(`wrote dashboards/${file}`);
}
