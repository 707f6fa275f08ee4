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

{{/* The password volumes and mounts the dumps need (the Prefect role's when Prefect is on). */}}
{{- define "mlops-stack.db.dumpPasswordVolumes" -}}
{{ include "mlops-stack.db.passwordVolume" . }}
{{- if .Values.prefect.enabled }}
{{ include "mlops-stack.prefect.db.passwordVolume" . }}
{{- end }}
{{- end }}

{{- define "mlops-stack.db.dumpPasswordMounts" -}}
{{ include "mlops-stack.db.passwordMount" . }}
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
{{- end }}
