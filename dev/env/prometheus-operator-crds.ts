import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache.js';
import { goModDownload } from './gobuild.js';
import { cacheDir, versions } from './versions.js';

/** The CRDs a chart with `metrics.serviceMonitor` and `prometheusRule` on needs the API server to know. */
export const MONITORING_CRD_FILES = ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'] as const;

/**
 * The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, from its Go module (the
 * module proxy is reachable; its release assets are not), checked against the committed
 * go.sum; resolves with the folder holding them.
 */
export async function provisionMonitoringCrds(): Promise<string> {
  return cached(cacheDir('prometheus-operator-crds', versions.prometheusOperator), async (staging) => {
    const moduleDir = fileURLToPath(new URL('go/prometheus-operator/', import.meta.url));
    const source = await goModDownload(moduleDir, 'github.com/prometheus-operator/prometheus-operator');
    for (const file of MONITORING_CRD_FILES) copyFileSync(join(source, 'example', 'prometheus-operator-crd', file), join(staging, file));
  });
}
