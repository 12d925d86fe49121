import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { isAlive } from '../../dev/env/process.js';
import { promtool, startPrometheus, vectorOf, type PrometheusServer } from '../support/prometheus.js';

describe('the test environment’s Prometheus', () => {
  let dir: string;
  let prometheus: PrometheusServer | undefined;
  const server = (): PrometheusServer => {
    if (prometheus === undefined) throw new Error('Prometheus did not start');
    return prometheus;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chatcluster-prometheus-test-'));
    const rules = join(dir, 'up.rules.yaml');
    writeFileSync(
      rules,
      stringify({
        groups: [
          {
            name: 'self',
            rules: [
              { record: 'job:up:sum', expr: 'sum by (job) (up)' },
              { alert: 'PrometheusSelfScrapeDown', expr: 'up{job="prometheus"} == 0', for: '1m' },
            ],
          },
        ],
      }),
    );
    prometheus = await startPrometheus({ scrapeConfigs: [], scrapeItself: true, ruleFiles: [rules] });
  });

  afterAll(async () => {
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is Debian’s Prometheus 2.42 on a loopback port, ready, with promtool of the same version', async () => {
    expect(server().url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${server().url}/-/ready`)).status).toBe(200);
    const buildInfo = await server().api<{ version: string }>('/api/v1/status/buildinfo');
    expect(buildInfo).toMatchObject({ status: 'success', data: { version: expect.stringMatching(/^2\.42\.\d+/) as unknown } });
    const version = await promtool(['--version']);
    expect(version.code).toBe(0);
    expect(version.output).toMatch(/^promtool, version 2\.42\.\d+/);
  });

  it('scrapes itself every second and answers PromQL over what it scraped', async () => {
    await vi.waitFor(async () => {
      const up = vectorOf('up', await server().query('up{job="prometheus"}'));
      expect(up.map((sample) => sample.value[1])).toEqual(['1']);
    }, { timeout: 20_000, interval: 250 });
    const targets = await server().targets();
    expect(targets.map((target) => [target.scrapePool, target.health])).toEqual([['prometheus', 'up']]);
    // Two scrapes a second apart are enough for rate() over a few seconds.
    await vi.waitFor(async () => {
      const rate = vectorOf('rate', await server().query('sum(rate(prometheus_http_requests_total[5s]))'));
      expect(Number(rate[0]?.value[1])).toBeGreaterThan(0);
    }, { timeout: 20_000, interval: 250 });
    const bad = await server().query('sum(rate(up[5s])');
    expect(bad).toMatchObject({ status: 'error', errorType: 'bad_data' });
  });

  it('loads and evaluates rule files', async () => {
    await vi.waitFor(async () => {
      const groups = await server().ruleGroups();
      expect(groups.map((group) => group.name)).toEqual(['self']);
      for (const rule of groups[0]?.rules ?? []) {
        expect(rule.health, rule.name).toBe('ok');
        expect(Date.parse(rule.lastEvaluation), rule.name).toBeGreaterThan(0);
      }
    }, { timeout: 20_000, interval: 250 });
    const recorded = vectorOf('job:up:sum', await server().query('job:up:sum'));
    expect(recorded).toEqual([{ metric: { __name__: 'job:up:sum', job: 'prometheus' }, value: [expect.any(Number), '1'] }]);
  });

  it('has a promtool that checks the generated configuration and its rules', async () => {
    const checked = await promtool(['check', 'config', server().configFile]);
    expect(checked.output).toContain('SUCCESS');
    expect(checked.code).toBe(0);
    const broken = join(dir, 'broken.yml');
    writeFileSync(broken, 'scrape_configs: [{ job_name: x, static_configs: [{ targets: [":::"] }] }]\nnot_a_key: 1\n');
    expect((await promtool(['check', 'config', broken])).code).not.toBe(0);
  });

  it('stops without leaving its process behind', async () => {
    const { pid, url } = server();
    await server().stop();
    expect(isAlive(pid)).toBe(false);
    expect(await fetch(`${url}/-/ready`).then(() => 'answered', () => 'refused')).toBe('refused');
    prometheus = undefined;
  });
});
