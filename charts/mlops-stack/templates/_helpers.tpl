{{/* Names ------------------------------------------------------------------------------------------ */}}

{{- define "mlops-stack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "mlops-stack.fullname" -}}
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

{{/* Name of one component's resources: <fullname>-<component>. Call with (dict "ctx" $ "component" "mlflow").
     The prefix is cut to 40 characters so that the longest Service name (<prefix>-postgresql-headless)
     stays a DNS label (63) and StatefulSet pod names stay within the 52-character controller limit. */}}
{{- define "mlops-stack.componentName" -}}
{{- printf "%s-%s" (include "mlops-stack.fullname" .ctx | trunc 40 | trimSuffix "-") .component }}
{{- end }}

{{- define "mlops-stack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlops-stack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlops-stack.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels ----------------------------------------------------------------------------------------- */}}

{{- define "mlops-stack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlops-stack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mlops-stack.labels" -}}
helm.sh/chart: {{ include "mlops-stack.chart" . }}
{{ include "mlops-stack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlops-stack
{{- end }}

{{/* Labels of one component. Call with (dict "ctx" $ "component" "mlflow"). */}}
{{- define "mlops-stack.componentLabels" -}}
{{ include "mlops-stack.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "mlops-stack.componentSelectorLabels" -}}
{{ include "mlops-stack.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Images ----------------------------------------------------------------------------------------- */}}

{{/* Call with (dict "ctx" $ "image" .Values.mlflow.image). */}}
{{- define "mlops-stack.image" -}}
{{- $registry := .ctx.Values.global.imageRegistry | trimSuffix "/" }}
{{- $repository := .image.repository }}
{{- if $registry }}{{ $repository = printf "%s/%s" $registry $repository }}{{ end }}
{{- printf "%s:%s" $repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* Security ----------------------------------------------------------------------------------------- */}}

{{/* Pod securityContext: restricted-v2 compatible. No runAsUser/fsGroup unless set (OpenShift assigns them). */}}
{{- define "mlops-stack.podSecurityContext" -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- /* kindIs "invalid": unset (null); 0 is a valid group, so `with` would drop it. */}}
{{- range $field := list "runAsUser" "runAsGroup" "fsGroup" }}
{{- $value := index $.Values.podSecurity $field }}
{{- if not (kindIs "invalid" $value) }}
{{ $field }}: {{ $value }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mlops-stack.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Fields every pod spec of the chart shares. */}}
{{- define "mlops-stack.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "mlops-stack.podSecurityContext" . | nindent 2 }}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Services and endpoints -------------------------------------------------------------------------- */}}

{{- define "mlops-stack.mlflow.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "mlflow") }}
{{- end }}

{{- define "mlops-stack.sftp.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "sftp") }}
{{- end }}

{{- define "mlops-stack.postgresql.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "postgresql") }}
{{- end }}

{{/* Whether the Route is rendered: the API exists (or it is forced) and routes are enabled. */}}
{{- define "mlops-stack.routeEnabled" -}}
{{- if and .Values.route.enabled (or .Values.route.force (.Capabilities.APIVersions.Has "route.openshift.io/v1/Route")) }}true{{ end }}
{{- end }}

{{- define "mlops-stack.ingressEnabled" -}}
{{- if and .Values.ingress.enabled (not (include "mlops-stack.routeEnabled" .)) }}true{{ end }}
{{- end }}

{{- define "mlops-stack.publicHost" -}}
{{- if include "mlops-stack.routeEnabled" . }}{{ .Values.route.host }}
{{- else if include "mlops-stack.ingressEnabled" . }}{{ .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* Host names MLflow answers to: the public host, and the Service by every in-cluster name, with the port
     (MLflow compares the whole Host header, and in-cluster clients send host:port). */}}
{{- define "mlops-stack.mlflow.allowedHosts" -}}
{{- $svc := include "mlops-stack.mlflow.serviceName" . }}
{{- $port := int .Values.mlflow.service.port }}
{{- $hosts := list }}
{{- with include "mlops-stack.publicHost" . }}{{ $hosts = append $hosts . }}{{ end }}
{{- range list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.%s" $svc .Release.Namespace .Values.clusterDomain) }}
{{- $hosts = append $hosts (printf "%s:%d" . $port) }}
{{- end }}
{{- range .Values.mlflow.extraAllowedHosts }}{{ $hosts = append $hosts . }}{{ end }}
{{- join "," $hosts }}
{{- end }}

{{- define "mlops-stack.mlflow.trackingUrl" -}}
{{- with include "mlops-stack.publicHost" . }}
{{- if and (include "mlops-stack.ingressEnabled" $) (not $.Values.ingress.tlsSecretName) }}http://{{ . }}{{ else }}https://{{ . }}{{ end }}
{{- else }}http://{{ include "mlops-stack.mlflow.serviceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.mlflow.service.port }}
{{- end }}
{{- end }}

{{- define "mlops-stack.artifactsDestination" -}}
{{- printf "sftp://%s@%s:%d/data/mlflow-artifacts" .Values.sftp.user (include "mlops-stack.sftp.serviceName" .) (int .Values.sftp.service.port) }}
{{- end }}

{{/* Database connection (in-chart PostgreSQL or externalDatabase) -------------------------------------- */}}

{{- define "mlops-stack.db.host" -}}
{{- if .Values.postgresql.enabled }}{{ include "mlops-stack.postgresql.serviceName" . }}{{ else }}{{ .Values.externalDatabase.host }}{{ end }}
{{- end }}

{{- define "mlops-stack.db.port" -}}
{{- if .Values.postgresql.enabled }}5432{{ else }}{{ .Values.externalDatabase.port }}{{ end }}
{{- end }}

{{- define "mlops-stack.db.user" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.username }}{{ else }}{{ .Values.externalDatabase.user }}{{ end }}
{{- end }}

{{- define "mlops-stack.db.name" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.database }}{{ else }}{{ .Values.externalDatabase.database }}{{ end }}
{{- end }}

{{- define "mlops-stack.db.authName" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.authDatabase }}{{ else }}{{ .Values.externalDatabase.authDatabase }}{{ end }}
{{- end }}

{{- define "mlops-stack.db.secretName" -}}
{{- if .Values.postgresql.enabled }}{{ default (include "mlops-stack.postgresql.serviceName" .) .Values.postgresql.auth.existingSecret }}
{{- else }}{{ .Values.externalDatabase.existingSecret }}{{ end }}
{{- end }}

{{- define "mlops-stack.db.secretPasswordKey" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.userPasswordKey }}{{ else }}{{ .Values.externalDatabase.existingSecretPasswordKey }}{{ end }}
{{- end }}

{{/* Environment of the MLflow image's database connection (images/README.md). */}}
{{- define "mlops-stack.mlflow.dbEnv" -}}
- name: MLFLOW_DB_HOST
  value: {{ include "mlops-stack.db.host" . | quote }}
- name: MLFLOW_DB_PORT
  value: {{ include "mlops-stack.db.port" . | quote }}
- name: MLFLOW_DB_USER
  value: {{ include "mlops-stack.db.user" . | quote }}
- name: MLFLOW_DB_PASSWORD_FILE
  value: /var/run/secrets/mlops-stack/db/password
- name: MLFLOW_DB_NAME
  value: {{ include "mlops-stack.db.name" . | quote }}
- name: MLFLOW_AUTH_DB_NAME
  value: {{ include "mlops-stack.db.authName" . | quote }}
{{- end }}

{{/* The database password as a file (not an env var: it would show in `kubectl describe` and crash dumps). */}}
{{- define "mlops-stack.db.passwordVolume" -}}
- name: db-password
  secret:
    secretName: {{ include "mlops-stack.db.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ include "mlops-stack.db.secretPasswordKey" . }}
        path: password
{{- end }}

{{- define "mlops-stack.db.passwordMount" -}}
- name: db-password
  mountPath: /var/run/secrets/mlops-stack/db
  readOnly: true
{{- end }}

{{/* Secrets: names of the generated-or-existing Secrets --------------------------------------------- */}}

{{- define "mlops-stack.mlflow.authSecretName" -}}
{{- default (include "mlops-stack.mlflow.serviceName" .) .Values.mlflow.auth.existingSecret }}
{{- end }}

{{- define "mlops-stack.mlflow.sftpKeySecretName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "mlflow-sftp-key")) .Values.mlflow.sftpClientKey.existingSecret }}
{{- end }}

{{- define "mlops-stack.sftp.hostKeysSecretName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "sftp-host-keys")) .Values.sftp.hostKeys.existingSecret }}
{{- end }}

{{- define "mlops-stack.backup.claimName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "backup")) .Values.backup.persistence.existingClaim }}
{{- end }}

{{/* Whether the backup volume is needed: by the CronJob or by the pre-upgrade dump. */}}
{{- define "mlops-stack.backup.volumeNeeded" -}}
{{- if or .Values.backup.enabled (and .Values.migration.enabled .Values.migration.dumpBeforeUpgrade) }}true{{ end }}
{{- end }}

{{/* Storage binding (README "Storage binding"): the backup claim is always mounted by a long-running pod,
     so that a WaitForFirstConsumer claim binds during `helm install --wait` (the CronJob and the hook Job
     alone would leave it Pending). That holder is the PostgreSQL pod (read-only), or with externalDatabase
     the backup-restore pod. Its component label: */}}
{{- define "mlops-stack.backup.holderComponent" -}}
{{- ternary "postgresql" "backup-restore" .Values.postgresql.enabled }}
{{- end }}

{{/* Whether the backup-restore pod is rendered: externalDatabase and a backup volume. */}}
{{- define "mlops-stack.backup.restorePodEnabled" -}}
{{- if and (not .Values.postgresql.enabled) (include "mlops-stack.backup.volumeNeeded" .) }}true{{ end }}
{{- end }}

{{/* Placement of the pods that write to the backup claim (CronJob, pre-upgrade dump): on the holder's node.
     A ReadWriteOnce volume attaches to one node, and the scheduler does not check that for CSI volumes
     (a pod elsewhere would hang in ContainerCreating with a Multi-Attach error). They also get
     PostgreSQL's tolerations, so that they may go where it runs. */}}
{{- define "mlops-stack.backup.placement" -}}
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchLabels:
            {{- include "mlops-stack.componentSelectorLabels" (dict "ctx" . "component" (include "mlops-stack.backup.holderComponent" .)) | nindent 12 }}
        topologyKey: kubernetes.io/hostname
{{- if .Values.postgresql.enabled }}
{{- with .Values.postgresql.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mlops-stack.backup.volume" -}}
- name: backups
  persistentVolumeClaim:
    claimName: {{ include "mlops-stack.backup.claimName" . }}
{{- end }}
