import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { cached } from './cache.js';
import { EnvError } from './errors.js';
import { run } from './process.js';
import { requireCommand } from './tools.js';
import { cacheDir, versions } from './versions.js';

const MODULE = 'github.com/prometheus-operator/prometheus-operator';
/** The CRDs a chart with `metrics.serviceMonitor` and `prometheusRule` on needs the API server to know. */
export const MONITORING_CRD_FILES = ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'] as const;

/**
 * The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, from its Go module (the
 * module proxy is reachable; its release assets are not), checked against the committed
 * go.sum; resolves with the folder holding them.
 */
export async function provisionMonitoringCrds(): Promise<string> {
  return cached(cacheDir('prometheus-operator-crds', versions.prometheusOperator), async (staging) => {
    const remedy = 'install the Go toolchain ≥ 1.26 and put go on PATH';
    const go = requireCommand('go', remedy);
    const output = await run(go, ['mod', 'download', '-json', MODULE], {
      cwd: fileURLToPath(new URL('go/prometheus-operator/', import.meta.url)),
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
      remedy,
    });
    const download = z.object({ Dir: z.string().optional(), Error: z.string().optional() }).parse(JSON.parse(output));
    if (download.Dir === undefined) throw new EnvError(`go mod download ${MODULE}: ${download.Error ?? 'no folder'}`, remedy);
    for (const file of MONITORING_CRD_FILES) copyFileSync(join(download.Dir, 'example', 'prometheus-operator-crd', file), join(staging, file));
  });
}
