{{- define "zonegate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "zonegate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" (include "zonegate.name" .) .Values.idc | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "zonegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zonegate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
zonegate.dev/idc: {{ .Values.idc | quote }}
{{- end -}}

{{- define "zonegate.labels" -}}
{{ include "zonegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "zonegate.adminTokenSecret" -}}
{{- if .Values.admin.token.existingSecret -}}
{{- .Values.admin.token.existingSecret -}}
{{- else -}}
{{- printf "%s-admin" (include "zonegate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "zonegate.tlsSecret" -}}
{{- if .Values.tls.existingSecret -}}
{{- .Values.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-tls" (include "zonegate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Pod grace = drain delay + drain timeout (rounded up to seconds) + 10 s for the process to exit. */}}
{{- define "zonegate.terminationGraceSeconds" -}}
{{- add (div (add .Values.drain.delayMs .Values.drain.timeoutMs 999) 1000) 10 -}}
{{- end -}}

{{/*
Readiness fails (and kube-proxy stops sending new connections to a draining pod) after 3/4 of
drain.delayMs: LVS, which reads /healthz (503 at once), has taken the node out before that, and
the listeners stay open until delayMs. Probe period 1 s, so the threshold is in seconds.
*/}}
{{- define "zonegate.readinessFailureThreshold" -}}
{{- max 1 (div (mul .Values.drain.delayMs 3) 4000) -}}
{{- end -}}

{{/* Refuses an install without secrets: the chart has none of its own to fall back on. */}}
{{- define "zonegate.checkSecrets" -}}
{{- if and (not .Values.admin.token.existingSecret) (not .Values.admin.token.value) -}}
{{- fail "admin token missing: set admin.token.existingSecret (a Secret with key `token`) or admin.token.value" -}}
{{- end -}}
{{- if and (not .Values.admin.token.existingSecret) (not .Values.admin.token.create) -}}
{{- fail "admin token missing: admin.token.create is false, so admin.token.existingSecret must name a Secret" -}}
{{- end -}}
{{- if not .Values.identity.cookie.existingSecret -}}
{{- range .Values.identity.cookie.keys -}}
{{- if not .secret -}}
{{- fail (printf "cookie key %s has no secret: set identity.cookie.existingSecret (a Secret with cookie-<id> keys) or identity.cookie.keys[].secret" .id) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.zonemap.redis.tls.enabled (not .Values.zonemap.redis.tls.existingSecret) -}}
{{- fail "zonemap.redis.tls.enabled needs zonemap.redis.tls.existingSecret (a Secret with ca.crt, and tls.crt/tls.key for clientCert)" -}}
{{- end -}}
{{- end -}}
