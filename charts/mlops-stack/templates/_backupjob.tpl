{{/* The pod of the backup, verify and restore Jobs (README "Backups", "Restore"): the postgresql image (pg_dump,
     pg_restore, restic), the database passwords, restic's Secrets, the backup volume and the stores.
     Call with (dict "ctx" $ "container" NAME "script" TEXT "storesReadOnly" BOOL "placement" TEXT "extraEnv" LIST
     "after" CONTAINER-YAML "afterVolumes" VOLUMES-YAML). */}}
{{- define "mlops-stack.backup.jobPod" -}}
{{- $ := .ctx }}
{{- include "mlops-stack.podCommon" $ }}
serviceAccountName: {{ include "mlops-stack.serviceAccountName" $ }}
restartPolicy: Never
{{ .placement }}
{{- /* With a step after restic's (the restore's accounts), restic's container runs first, as an init container. */}}
{{ if .after }}initContainers{{ else }}containers{{ end }}:
  - name: {{ .container }}
    {{- include "mlops-stack.containerImage" (dict "ctx" $ "image" $.Values.postgresql.image) | nindent 4 }}
    command: [container-entrypoint]
    args:
      - sh
      - -c
      - |
        {{- .script | nindent 8 }}
    env:
      {{- include "mlops-stack.pgClientEnv" $ | nindent 6 }}
      {{- include "mlops-stack.backup.resticEnv" $ | nindent 6 }}
      {{- with .extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with $.Values.backup.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with $.Values.backup.extraEnvFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    securityContext:
      {{- include "mlops-stack.containerSecurityContext" $ | nindent 6 }}
    resources:
      {{- toYaml $.Values.backup.resources | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: backups
        mountPath: /backups
      {{- include "mlops-stack.db.dumpPasswordMounts" $ | nindent 6 }}
      {{- include "mlops-stack.backup.resticMounts" $ | nindent 6 }}
      {{- if not (kindIs "invalid" .storesReadOnly) }}
      {{- include "mlops-stack.backup.storeMounts" (dict "ctx" $ "readOnly" .storesReadOnly) | nindent 6 }}
      {{- end }}
      {{- with $.Values.backup.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
{{- with .after }}
containers:
  {{- . | nindent 2 }}
{{- end }}
volumes:
  {{- include "mlops-stack.tmpVolume" $.Values.backup.tmpSizeLimit | nindent 2 }}
  {{- include "mlops-stack.backup.volume" $ | nindent 2 }}
  {{- include "mlops-stack.db.dumpPasswordVolumes" $ | nindent 2 }}
  {{- include "mlops-stack.backup.resticVolumes" $ | nindent 2 }}
  {{- if not (kindIs "invalid" .storesReadOnly) }}
  {{- include "mlops-stack.backup.storeVolumes" $ | nindent 2 }}
  {{- end }}
  {{- with .afterVolumes }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- with $.Values.backup.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
