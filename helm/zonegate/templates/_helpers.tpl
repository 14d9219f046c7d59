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

{{/* Pod grace = drain delay + drain timeout + 10 s for the process to exit. */}}
{{- define "zonegate.terminationGraceSeconds" -}}
{{- add (div .Values.drain.delayMs 1000) (div .Values.drain.timeoutMs 1000) 10 -}}
{{- end -}}
