// Pins the Prometheus Operator module for its CRDs (ServiceMonitor, PrometheusRule), which
// the chart tests install so the API server can accept those objects. Nothing is built.
module chatcluster.dev/testenv/prometheus-operator

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
