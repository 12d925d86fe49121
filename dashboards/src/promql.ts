/** Small PromQL builders, so every panel query scopes and rates its series the same way. */

/** `metric{matcher, ...}`, or the bare metric without matchers. */
export function selector(metric: string, matchers: readonly string[]): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`;
}

/** A per-second rate over Grafana's `$__rate_interval` (at least four scrape intervals). */
export function rate(series: string): string {
  return `rate(${series}[$__rate_interval])`;
}

/** `sum by (labels) (expr)`, or `sum(expr)` without labels. */
export function sumBy(labels: readonly string[], expr: string): string {
  return labels.length === 0 ? `sum(${expr})` : `sum by (${labels.join(', ')}) (${expr})`;
}

/** The q-quantile of a histogram, its buckets summed over everything but `by` and `le`. */
export function quantile(q: number, histogram: string, matchers: readonly string[], by: readonly string[]): string {
  return `histogram_quantile(${q}, ${sumBy([...by, 'le'], rate(selector(`${histogram}_bucket`, matchers)))})`;
}
