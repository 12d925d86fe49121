import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readOwnCrd } from '../../operator/crd/upgrade.js';
import { RELEASED_NODE_IMAGE } from '../../operator/config.js';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const packageVersion = (JSON.parse(readFileSync(root('package.json'), 'utf8')) as { version: string }).version;

describe('one release version everywhere', () => {
  it('the chart’s version and appVersion, the CRD’s version and the default node image follow package.json', () => {
    const chart = parse(readFileSync(root('charts/chatcluster-operator/Chart.yaml'), 'utf8')) as { version: string; appVersion: string };
    expect(chart.appVersion).toBe(packageVersion);
    expect(chart.version).toBe(packageVersion);
    expect(readOwnCrd().version).toBe(packageVersion);
    expect(RELEASED_NODE_IMAGE).toBe(`chatcluster/chat-node:${packageVersion}`);
  });

  it('the chart ships crds/chatcluster.yaml itself (a link), not a copy that could drift', () => {
    const linked = root('charts/chatcluster-operator/crds/chatcluster.yaml');
    expect(lstatSync(linked).isSymbolicLink()).toBe(true);
    expect(readlinkSync(linked)).toBe('../../../crds/chatcluster.yaml');
  });
});
