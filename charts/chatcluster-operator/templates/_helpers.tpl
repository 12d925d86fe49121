{{/* The chart's name, or nameOverride. */}}
{{- define "chatcluster-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: names every object of the release (63 characters at most). */}}
{{- define "chatcluster-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Names of cluster-scoped objects: with the namespace, so the same release name in two namespaces does not collide. */}}
{{- define "chatcluster-operator.clusterScopedName" -}}
{{- printf "%s-%s" .Release.Namespace (include "chatcluster-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Helm's standard labels, on every object. */}}
{{- define "chatcluster-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "chatcluster-operator.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chatcluster
{{- end }}

{{/* The labels that select the operator's pods. */}}
{{- define "chatcluster-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chatcluster-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chatcluster-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chatcluster-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository@digest, or repository:tag (default appVersion). */}}
{{- define "chatcluster-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "chatcluster-operator.nodeImage" -}}
{{- printf "%s:%s" .Values.nodeImage.repository (default .Chart.AppVersion .Values.nodeImage.tag) }}
{{- end }}

{{/* The one namespace a namespaced install manages. */}}
{{- define "chatcluster-operator.watchNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace }}
{{- end }}

{{/* The operator's permissions, from files/rbac-rules.yaml (the copy the tests bind too). */}}
{{- define "chatcluster-operator.rbacRules" -}}
{{- .Files.Get "files/rbac-rules.yaml" }}
{{- end }}
