{{- define "rollouts.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rollouts.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rollouts.labels" -}}
{{ include "rollouts.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rollouts
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "rollouts.serviceAccountName" -}}
{{- default (include "rollouts.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "rollouts.dropIn" -}}
{{- if eq .Values.controller.apiGroup "argoproj.io" }}true{{ end -}}
{{- end -}}

{{/* The ClusterRole rules of files/rbac.yaml (and, in drop-in mode, files/rbac-argoproj.yaml): the same rules
     `rollouts install` applies, one definition (the files link to the package's manifests). */}}
{{- define "rollouts.rules" -}}
{{- $files := list "files/rbac.yaml" -}}
{{- if include "rollouts.dropIn" . -}}{{- $files = append $files "files/rbac-argoproj.yaml" -}}{{- end -}}
{{- $rules := list -}}
{{- range $file := $files -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" ($.Files.Get $file) -1 -}}
{{- $object := fromYaml $doc -}}
{{- if eq (get $object "kind") "ClusterRole" -}}
{{- $rules = concat $rules (get $object "rules") -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
