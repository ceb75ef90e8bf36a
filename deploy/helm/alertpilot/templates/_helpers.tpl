{{/* Names */}}
{{- define "alertpilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "alertpilot.fullname" -}}
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

{{- define "alertpilot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "alertpilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "serve") */}}
{{- define "alertpilot.selector" -}}
app.kubernetes.io/name: {{ include "alertpilot.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "alertpilot.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "alertpilot.serviceAccount" -}}{{ include "alertpilot.fullname" . }}{{- end }}
{{- define "alertpilot.executorServiceAccount" -}}{{ include "alertpilot.fullname" . }}-executor{{- end }}

{{/* The namespaces alertpilot may act in; rendering fails when there is none. */}}
{{- define "alertpilot.allowedNamespaces" -}}
{{- $ns := (.Values.config.policy | default dict).allowed_namespaces | default list }}
{{- if not $ns }}
{{- fail "config.policy.allowed_namespaces: list at least one namespace (the executor's Roles are made per namespace)" }}
{{- end }}
{{- toJson (uniq $ns) }}
{{- end }}

{{- define "alertpilot.diagnosisNamespaces" -}}
{{- $ns := .Values.rbac.diagnosis.namespaces | default (include "alertpilot.allowedNamespaces" . | fromJsonArray) }}
{{- toJson (uniq $ns) }}
{{- end }}

{{/* alertpilot.yaml: the user's config plus what the chart wires (executor Service). */}}
{{- define "alertpilot.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := include "alertpilot.allowedNamespaces" . }}
{{- if hasKey $cfg "database" }}
{{- if (get $cfg "database" | default dict).url }}
{{- fail "config.database.url: put the URL in a Secret (database.urlSecret), not in values" }}
{{- end }}
{{- end }}
{{- if .Values.executor.enabled }}
{{- $executor := get $cfg "executor" | default dict }}
{{- $_ := set $executor "backend" "http" }}
{{- $_ := set $executor "url" (printf "http://%s-executor.%s.svc:%v" (include "alertpilot.fullname" .) .Release.Namespace .Values.executor.port) }}
{{- $_ := set $executor "token_env" "ALERTPILOT_EXECUTOR_TOKEN" }}
{{- $kube := get $executor "kubernetes" | default dict }}
{{- if not $kube.namespace }}
{{- $_ := set $kube "namespace" (first (include "alertpilot.allowedNamespaces" . | fromJsonArray)) }}
{{- end }}
{{- $_ := set $executor "kubernetes" $kube }}
{{- $_ := set $cfg "executor" $executor }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The executor's Role rules: exactly the API calls tools/backends/kubernetes.py makes for
the operations in executor.operations, their undo included (tests/deploy/test_rbac.py
records those calls against a local API server and compares).
*/}}
{{- define "alertpilot.executorRules" -}}
{{- $known := list "restart" "config_refresh" "scale" "version_rollback" "isolate" "full_rollback" }}
{{- $ops := .Values.executor.operations | default list }}
{{- if not $ops }}{{ fail "executor.operations: list at least one operation" }}{{ end }}
{{- range $ops }}
{{- if not (has . $known) }}
{{- fail (printf "executor.operations: unknown operation %q (known: %s)" . (join ", " $known)) }}
{{- end }}
{{- end }}
{{- $deploymentVerbs := list "get" }}
{{- if or (has "restart" $ops) (has "config_refresh" $ops) (has "scale" $ops) (has "version_rollback" $ops) (has "full_rollback" $ops) }}
{{- $deploymentVerbs = append $deploymentVerbs "patch" }}
{{- end }}
{{- if has "full_rollback" $ops }}
{{- $deploymentVerbs = append $deploymentVerbs "list" }}
{{- end }}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: {{ toJson (sortAlpha $deploymentVerbs) }}
{{- if or (has "restart" $ops) (has "config_refresh" $ops) (has "version_rollback" $ops) (has "full_rollback" $ops) }}
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["list"]
{{- end }}
{{- if has "isolate" $ops }}
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["create", "delete"]
{{- end }}
{{- end }}

{{/* Environment shared by serve and workers: tokens and the database URL from Secrets. */}}
{{- define "alertpilot.appEnv" -}}
- name: ALERTPILOT_CONFIG
  value: /etc/alertpilot/alertpilot.yaml
- name: ALERTPILOT_WEBHOOK_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ required "secrets.existingSecret: required" .Values.secrets.existingSecret }}, key: {{ .Values.secrets.webhookTokenKey }}}
- name: ALERTPILOT_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: {{ .Values.secrets.webhookHmacKey }}, optional: true}
{{- if .Values.executor.enabled }}
- name: ALERTPILOT_EXECUTOR_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: {{ .Values.secrets.executorTokenKey }}}
{{- end }}
{{- if .Values.postgresql.enabled }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.postgresql.auth.existingSecret }}, key: {{ .Values.postgresql.auth.passwordKey }}}
- name: ALERTPILOT_DATABASE__URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s-postgresql.%s.svc:5432/%s" .Values.postgresql.auth.username .Release.Name .Release.Namespace .Values.postgresql.auth.database | quote }}
{{- else }}
- name: ALERTPILOT_DATABASE__URL
  valueFrom:
    secretKeyRef: {name: {{ default .Values.secrets.existingSecret .Values.database.urlSecret.secretName }}, key: {{ .Values.database.urlSecret.key }}}
{{- end }}
{{- include "alertpilot.extraEnv" .Values.secrets.extraEnv }}
{{- end }}

{{- define "alertpilot.extraEnv" -}}
{{- range . }}
- name: {{ required "secrets.extraEnv[].name: required" .name }}
  valueFrom:
    secretKeyRef: {name: {{ required "secrets.extraEnv[].secretName: required" .secretName }}, key: {{ required "secrets.extraEnv[].key: required" .key }}, optional: {{ .optional | default false }}}
{{- end }}
{{- end }}

{{/* Writable scratch space under a read-only root filesystem. */}}
{{- define "alertpilot.volumeMounts" -}}
- {name: config, mountPath: /etc/alertpilot, readOnly: true}
- {name: tmp, mountPath: /tmp}
- {name: home, mountPath: /var/lib/alertpilot}
{{- end }}

{{- define "alertpilot.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}
