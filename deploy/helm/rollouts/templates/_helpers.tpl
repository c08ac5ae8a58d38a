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

{{/* The rules of one namespaced Role of files/rbac.yaml (by its name there): the chart grants what `rollouts install`
     grants, in the release's namespace. Call with (dict "root" $ "name" "rollouts-controller-notifications"). */}}
{{- define "rollouts.roleRules" -}}
{{- $rules := list -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" (.root.Files.Get "files/rbac.yaml") -1 -}}
{{- $object := fromYaml $doc -}}
{{- if and (eq (get $object "kind") "Role") (eq (get (get $object "metadata") "name") $.name) -}}
{{- $rules = get $object "rules" -}}
{{- end -}}
{{- end -}}
{{- if not $rules }}{{ fail (printf "files/rbac.yaml has no Role %s" .name) }}{{ end -}}
{{- toYaml $rules -}}
{{- end -}}

{{- define "rollouts.notificationsConfigMap" -}}
{{- if include "rollouts.dropIn" . }}argo-rollouts-notification-configmap{{ else }}rollouts-notification-configmap{{ end -}}
{{- end -}}

{{- define "rollouts.notificationsSecret" -}}
{{- if include "rollouts.dropIn" . }}argo-rollouts-notification-secret{{ else }}rollouts-notification-secret{{ end -}}
{{- end -}}
