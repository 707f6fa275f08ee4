{{/* Backups: the backup claim, who holds and who writes it, and the pg_dump script. */}}

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

{{- define "mlops-stack.backup.restoreName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "backup-restore") }}
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

{{/* pg_dump of every database of mlops-stack.db.dumpTargets into /backups (each with its own role and
     password file), then keep the newest `retention` dumps per database and kind. Each dump is written
     under a temporary name and renamed when complete, so a partial dump never counts as a backup.
     Call with (dict "ctx" $ "kind" "scheduled"). */}}
{{- define "mlops-stack.pgDumpScript" -}}
set -eu
umask 027
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
while read -r db user password_file; do
  file="/backups/${db}-{{ .kind }}-${stamp}.dump"
  if ! PGUSER="$user" PGPASSWORD="$(cat "$password_file")" pg_dump --format=custom --no-password --dbname="$db" --file="${file}.partial"; then
    rm -f -- "${file}.partial"
    echo "pg_dump of ${db} failed" >&2
    exit 1
  fi
  mv "${file}.partial" "$file"
  echo "dumped ${db} to ${file} ($(wc -c < "$file") bytes)"
  ls -1t /backups/"${db}-{{ .kind }}-"*.dump | tail -n +{{ add1 (int .ctx.Values.backup.retention) }} | while read -r old; do
    rm -f -- "$old"
    echo "removed ${old} (retention {{ .ctx.Values.backup.retention }})"
  done
done <<'TARGETS'
{{ include "mlops-stack.db.dumpTargets" .ctx }}
TARGETS
{{- end }}
