{{/* The database connection (in-chart PostgreSQL or externalDatabase): host, port, user, names, password Secret and how pods get it. */}}

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

{{/* The database password as a file (not an env var: it would show in `kubectl describe` and crash dumps):
     the volume, its mount and the file's path. */}}
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
  mountPath: {{ include "mlops-stack.secretDir" "db" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.db.passwordFile" -}}
{{ include "mlops-stack.secretDir" "db" }}/password
{{- end }}

{{/* TLS to an external database (README "External PostgreSQL over TLS"), for every client of it: libpq
     (psycopg2 in MLflow, pg_dump, psql) and asyncpg (Prefect's server) both read PGSSLMODE and
     PGSSLROOTCERT from the environment, so these variables serve both drivers without a URI parameter
     (asyncpg refuses libpq's `sslmode=` in a SQLAlchemy URL). The in-chart PostgreSQL is reached inside
     the namespace behind its NetworkPolicy, without TLS: nothing is set for it. */}}
{{- define "mlops-stack.db.tlsEnabled" -}}
{{- if not .Values.postgresql.enabled }}true{{ end }}
{{- end }}

{{/* Where the external database's CA comes from: externalDatabase.tlsCA, else the trusted CA bundle
     (global.caBundle); as YAML {kind, name, key}, `{}` when neither is set. */}}
{{- define "mlops-stack.db.caSource" -}}
{{- if .Values.externalDatabase.tlsCA.name }}
{{- toYaml .Values.externalDatabase.tlsCA }}
{{- else if .Values.global.caBundle.configMap }}
{{- toYaml (dict "kind" "ConfigMap" "name" .Values.global.caBundle.configMap "key" .Values.global.caBundle.key) }}
{{- else }}{}
{{- end }}
{{- end }}

{{- define "mlops-stack.db.caFile" -}}
{{ include "mlops-stack.secretDir" "db-ca" }}/ca.crt
{{- end }}

{{- define "mlops-stack.db.tlsEnv" -}}
{{- if include "mlops-stack.db.tlsEnabled" . }}
- name: PGSSLMODE
  value: {{ .Values.externalDatabase.sslMode | quote }}
{{- if (include "mlops-stack.db.caSource" . | fromYaml).name }}
- name: PGSSLROOTCERT
  value: {{ include "mlops-stack.db.caFile" . }}
{{- end }}
{{- end }}
{{- end }}

{{/* What every database client pod mounts: the password file and, with a CA source (above), the CA. */}}
{{- define "mlops-stack.db.clientVolumes" -}}
{{ include "mlops-stack.db.passwordVolume" . }}
{{- include "mlops-stack.db.caVolume" . }}
{{- end }}

{{- define "mlops-stack.db.clientMounts" -}}
{{ include "mlops-stack.db.passwordMount" . }}
{{- include "mlops-stack.db.caMount" . }}
{{- end }}

{{/* The database CA alone (empty without TLS or a CA source), for clients with passwords of their own. */}}
{{- define "mlops-stack.db.caVolume" -}}
{{- $ca := include "mlops-stack.db.caSource" . | fromYaml }}
{{- if and (include "mlops-stack.db.tlsEnabled" .) $ca.name }}
- name: db-ca
  {{- if eq $ca.kind "Secret" }}
  secret:
    secretName: {{ $ca.name }}
  {{- else }}
  configMap:
    name: {{ $ca.name }}
  {{- end }}
    defaultMode: 0444
    items:
      - key: {{ $ca.key }}
        path: ca.crt
{{- end }}
{{- end }}

{{- define "mlops-stack.db.caMount" -}}
{{- if and (include "mlops-stack.db.tlsEnabled" .) (include "mlops-stack.db.caSource" . | fromYaml).name }}
- name: db-ca
  mountPath: {{ include "mlops-stack.secretDir" "db-ca" }}
  readOnly: true
{{- end }}
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
  value: {{ include "mlops-stack.db.passwordFile" . }}
- name: MLFLOW_DB_NAME
  value: {{ include "mlops-stack.db.name" . | quote }}
- name: MLFLOW_AUTH_DB_NAME
  value: {{ include "mlops-stack.db.authName" . | quote }}
{{- include "mlops-stack.db.tlsEnv" . }}
{{- end }}

{{/* The Prefect server's database: in the chart's PostgreSQL a role and database of their own
     (prefect.database.name, reconciled by the postgresql image's POSTGRES_EXTRA_ROLES, password under
     postgresql.auth.prefectPasswordKey of the database Secret), or externalDatabase.prefectDatabase owned
     by externalDatabase.user. Host, port and Secret are the MLflow connection's. */}}
{{- define "mlops-stack.prefect.db.user" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.prefect.database.name }}{{ else }}{{ .Values.externalDatabase.user }}{{ end }}
{{- end }}

{{- define "mlops-stack.prefect.db.name" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.prefect.database.name }}{{ else }}{{ .Values.externalDatabase.prefectDatabase }}{{ end }}
{{- end }}

{{- define "mlops-stack.prefect.db.secretPasswordKey" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.prefectPasswordKey }}{{ else }}{{ .Values.externalDatabase.existingSecretPasswordKey }}{{ end }}
{{- end }}

{{- define "mlops-stack.prefect.db.passwordVolume" -}}
- name: prefect-db-password
  secret:
    secretName: {{ include "mlops-stack.db.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ include "mlops-stack.prefect.db.secretPasswordKey" . }}
        path: password
{{- end }}

{{- define "mlops-stack.prefect.db.passwordMount" -}}
- name: prefect-db-password
  mountPath: {{ include "mlops-stack.secretDir" "prefect-db" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.prefect.db.passwordFile" -}}
{{ include "mlops-stack.secretDir" "prefect-db" }}/password
{{- end }}

{{/* Environment of the Prefect image's database connection (images/README.md). */}}
{{- define "mlops-stack.prefect.dbEnv" -}}
- name: PREFECT_DB_HOST
  value: {{ include "mlops-stack.db.host" . | quote }}
- name: PREFECT_DB_PORT
  value: {{ include "mlops-stack.db.port" . | quote }}
- name: PREFECT_DB_USER
  value: {{ include "mlops-stack.prefect.db.user" . | quote }}
- name: PREFECT_DB_PASSWORD_FILE
  value: {{ include "mlops-stack.prefect.db.passwordFile" . }}
- name: PREFECT_DB_NAME
  value: {{ include "mlops-stack.prefect.db.name" . | quote }}
{{- include "mlops-stack.db.tlsEnv" . }}
{{- end }}

{{/* Every database the dumps (pre-upgrade, scheduled) take, one "database role password-file" line each:
     MLflow's two, and Prefect's with its own role. */}}
{{- define "mlops-stack.db.dumpTargets" -}}
{{ include "mlops-stack.db.name" . }} {{ include "mlops-stack.db.user" . }} {{ include "mlops-stack.db.passwordFile" . }}
{{ include "mlops-stack.db.authName" . }} {{ include "mlops-stack.db.user" . }} {{ include "mlops-stack.db.passwordFile" . }}
{{- if .Values.prefect.enabled }}
{{ include "mlops-stack.prefect.db.name" . }} {{ include "mlops-stack.prefect.db.user" . }} {{ include "mlops-stack.prefect.db.passwordFile" . }}
{{- end }}
{{- end }}

{{/* The password volumes and mounts the dumps need (the Prefect role's when Prefect is on) and the CA. */}}
{{- define "mlops-stack.db.dumpPasswordVolumes" -}}
{{ include "mlops-stack.db.clientVolumes" . }}
{{- if .Values.prefect.enabled }}
{{ include "mlops-stack.prefect.db.passwordVolume" . }}
{{- end }}
{{- end }}

{{- define "mlops-stack.db.dumpPasswordMounts" -}}
{{ include "mlops-stack.db.clientMounts" . }}
{{- if .Values.prefect.enabled }}
{{ include "mlops-stack.prefect.db.passwordMount" . }}
{{- end }}
{{- end }}

{{/* Environment of the PostgreSQL client tools (pg_dump, psql, pg_restore). */}}
{{- define "mlops-stack.pgClientEnv" -}}
- name: PGHOST
  value: {{ include "mlops-stack.db.host" . | quote }}
- name: PGPORT
  value: {{ include "mlops-stack.db.port" . | quote }}
- name: PGUSER
  value: {{ include "mlops-stack.db.user" . | quote }}
{{- include "mlops-stack.db.tlsEnv" . }}
{{- end }}

{{/* MLflow's PostgreSQL connections at their peak: pods (replicas plus the Deployment's default 25% surge
during a rolling update) × workers × engines (tracking, model registry, and basic-auth when on) × pool. */}}
{{- define "mlops-stack.mlflow.peakPods" -}}
{{- $replicas := int .Values.mlflow.replicas -}}
{{- add $replicas (div (add $replicas 3) 4) -}}
{{- end -}}

{{- define "mlops-stack.mlflow.engines" -}}
{{- ternary 3 2 .Values.mlflow.auth.enabled -}}
{{- end -}}

{{- define "mlops-stack.mlflow.peakConnections" -}}
{{- $pool := add (int .Values.mlflow.databasePool.size) (int .Values.mlflow.databasePool.maxOverflow) -}}
{{- mul (include "mlops-stack.mlflow.peakPods" . | int) (int .Values.mlflow.workers) (include "mlops-stack.mlflow.engines" . | int) $pool -}}
{{- end -}}

{{- define "mlops-stack.mlflow.peakConnectionsFormula" -}}
{{- printf "%s pods (mlflow.replicas %d plus %d for a rolling update's surge) x %d workers x %s engines (tracking, model registry%s) x %d connections (databasePool.size %d + maxOverflow %d)" (include "mlops-stack.mlflow.peakPods" .) (int .Values.mlflow.replicas) (sub (include "mlops-stack.mlflow.peakPods" . | int) (int .Values.mlflow.replicas)) (int .Values.mlflow.workers) (include "mlops-stack.mlflow.engines" .) (ternary ", basic-auth" "" .Values.mlflow.auth.enabled) (add (int .Values.mlflow.databasePool.size) (int .Values.mlflow.databasePool.maxOverflow)) (int .Values.mlflow.databasePool.size) (int .Values.mlflow.databasePool.maxOverflow) -}}
{{- end -}}
