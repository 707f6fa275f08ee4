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

{{/* ---- restic: the scheduled backup of everything (README "Backups") ---- */}}

{{/* The SFTP data volume(s) the backup takes and the restore writes back, one entry each: the pod volume
     name, its claim (and subPath, when a store is one folder of a shared claim), where the backup and
     restore pods mount it (the path the snapshots hold), and the component label of the pod that mounts it
     read-write (the backup pod must share its node: ReadWriteOnce). The one list the chart keeps of the
     stores: a change in how they are stored changes only this. */}}
{{- define "mlops-stack.backup.stores" -}}
- name: store-sftp
  claimName: {{ include "mlops-stack.sftp.claimName" . }}
  subPath: ""
  mountPath: /stores/sftp
  component: sftp
{{- end }}

{{- define "mlops-stack.backup.storeVolumes" -}}
{{- range (include "mlops-stack.backup.stores" . | fromYamlArray) }}
- name: {{ .name }}
  persistentVolumeClaim:
    claimName: {{ .claimName }}
{{- end }}
{{- end }}

{{/* Call with (dict "ctx" $ "readOnly" true): read-only in the backup, read-write in the restore. */}}
{{- define "mlops-stack.backup.storeMounts" -}}
{{- range (include "mlops-stack.backup.stores" .ctx | fromYamlArray) }}
- name: {{ .name }}
  mountPath: {{ .mountPath }}
  {{- with .subPath }}
  subPath: {{ . }}
  {{- end }}
  readOnly: {{ $.readOnly }}
{{- end }}
{{- end }}

{{/* Placement of the backup pod: the holder's node (placement above) and each store pod's node, since it
     mounts their ReadWriteOnce claims too (the SFTP pod is placed on the holder's node for this, see
     mlops-stack.backup.storePlacement). */}}
{{- define "mlops-stack.backup.fullPlacement" -}}
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchLabels:
            {{- include "mlops-stack.componentSelectorLabels" (dict "ctx" . "component" (include "mlops-stack.backup.holderComponent" .)) | nindent 12 }}
        topologyKey: kubernetes.io/hostname
      {{- range (include "mlops-stack.backup.stores" . | fromYamlArray) }}
      - labelSelector:
          matchLabels:
            {{- include "mlops-stack.componentSelectorLabels" (dict "ctx" $ "component" .component) | nindent 12 }}
        topologyKey: kubernetes.io/hostname
      {{- end }}
{{- if .Values.postgresql.enabled }}
{{- with .Values.postgresql.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/* The affinity of a store pod (the SFTP server) with backups on: the backup holder's node, so that one node
     can mount the backup claim and the store's claim for the backup pod (ReadWriteOnce). The component's own
     `affinity` value replaces it. Call with (dict "ctx" $ "values" .Values.sftp). */}}
{{- define "mlops-stack.backup.storePlacement" -}}
{{- if .values.affinity }}
{{- include "mlops-stack.podScheduling" .values }}
{{- else }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .ctx.Values.backup.enabled }}
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchLabels:
            {{- include "mlops-stack.componentSelectorLabels" (dict "ctx" .ctx "component" (include "mlops-stack.backup.holderComponent" .ctx)) | nindent 12 }}
        topologyKey: kubernetes.io/hostname
{{- end }}
{{- end }}
{{- end }}

{{- define "mlops-stack.backup.resticSecretName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "backup-restic")) .Values.backup.restic.existingSecret }}
{{- end }}

{{/* The repository: on the backup volume unless backup.restic.repository names an off-cluster one. */}}
{{- define "mlops-stack.backup.repository" -}}
{{- default "/backups/restic" .Values.backup.restic.repository }}
{{- end }}

{{- define "mlops-stack.backup.repositoryKind" -}}
{{- $repo := include "mlops-stack.backup.repository" . }}
{{- if hasPrefix "s3:" $repo }}s3{{ else if hasPrefix "sftp:" $repo }}sftp{{ else }}local{{ end }}
{{- end }}

{{/* Where the database dumps wait for the snapshot (on the backup volume: /tmp is small), and the snapshots'
     host and tag, which every restic command filters on (a repository may hold other releases too). */}}
{{- define "mlops-stack.backup.dumpsDir" -}}
/backups/.restic-dumps
{{- end }}

{{- define "mlops-stack.backup.resticHost" -}}
{{- printf "%s.%s" .Release.Name .Release.Namespace }}
{{- end }}

{{/* restic's environment: the repository, the password as a file, its cache in /tmp; the off-cluster
     repository's credentials as files too (S3: an AWS shared-credentials file; SFTP: the key and the pinned
     host key, used by the ssh command of mlops-stack.backup.resticOptions). */}}
{{- define "mlops-stack.backup.resticEnv" -}}
- name: RESTIC_REPOSITORY
  value: {{ include "mlops-stack.backup.repository" . | quote }}
- name: RESTIC_PASSWORD_FILE
  value: {{ include "mlops-stack.secretDir" "restic" }}/password
- name: RESTIC_CACHE_DIR
  value: /tmp/restic-cache
- name: RESTIC_HOST
  value: {{ include "mlops-stack.backup.resticHost" . | quote }}
{{- if eq (include "mlops-stack.backup.repositoryKind" .) "s3" }}
- name: AWS_SHARED_CREDENTIALS_FILE
  value: {{ include "mlops-stack.secretDir" "restic-repository" }}/credentials
{{- end }}
{{- if eq (include "mlops-stack.backup.repositoryKind" .) "sftp" }}
- name: RESTIC_SFTP_COMMAND
  value: {{ printf "ssh -F none -i %s/ssh-privatekey -o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -p %d %s -s sftp" (include "mlops-stack.secretDir" "restic-repository") (include "mlops-stack.secretDir" "restic-repository") (int .Values.backup.restic.sftpPort) (regexReplaceAll "^sftp:([^:/]+).*$" (include "mlops-stack.backup.repository" .) "${1}") | quote }}
{{- end }}
{{- end }}

{{- define "mlops-stack.backup.resticVolumes" -}}
- name: restic-password
  secret:
    secretName: {{ include "mlops-stack.backup.resticSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.backup.restic.passwordKey }}
        path: password
{{- with .Values.backup.restic.credentialsSecret }}
- name: restic-repository
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "mlops-stack.backup.resticMounts" -}}
- name: restic-password
  mountPath: {{ include "mlops-stack.secretDir" "restic" }}
  readOnly: true
{{- if .Values.backup.restic.credentialsSecret }}
- name: restic-repository
  mountPath: {{ include "mlops-stack.secretDir" "restic-repository" }}
  readOnly: true
{{- end }}
{{- end }}

{{/* What every restic script starts with: the ssh transport of an sftp: repository (an option, not a secret),
     and the repository opened, or created at the first backup ("init": true). A wrong password is said as
     such, never answered with a new repository. */}}
{{- define "mlops-stack.backup.resticPreamble" -}}
set -eu
umask 027
restic() { if [ -n "${RESTIC_SFTP_COMMAND:-}" ]; then command restic -o sftp.command="$RESTIC_SFTP_COMMAND" "$@"; else command restic "$@"; fi; }
if ! restic cat config >/dev/null 2>/tmp/restic-open.err; then
  if grep -q "wrong password" /tmp/restic-open.err; then
    echo "restic: the repository ${RESTIC_REPOSITORY} does not open with the password of Secret {{ include "mlops-stack.backup.resticSecretName" .ctx }} (key {{ .ctx.Values.backup.restic.passwordKey }}): put back the Secret that created it (backup.restic.existingSecret)" >&2
    exit 1
  fi
  {{- if .init }}
  echo "restic: no repository at ${RESTIC_REPOSITORY} yet: creating it"
  restic init
  {{- else }}
  cat /tmp/restic-open.err >&2
  echo "restic: no readable repository at ${RESTIC_REPOSITORY}: nothing to restore from (check backup.restic.repository and its credentials)" >&2
  exit 1
  {{- end }}
fi
{{- end }}

{{/* The scheduled backup: every database of mlops-stack.db.dumpTargets dumped first, then the stores, in
     one snapshot (so a snapshot's files are at least as new as its databases: every artifact a run row names
     is in it), then retention (forget --prune) and a read-back of a sample of the data. */}}
{{- define "mlops-stack.backup.resticBackupScript" -}}
{{ include "mlops-stack.backup.resticPreamble" (dict "ctx" . "init" true) }}
started="$(date +%s)"
dumps={{ include "mlops-stack.backup.dumpsDir" . }}
rm -rf -- "$dumps"
mkdir -p -- "$dumps"
while read -r db user password_file; do
  if ! PGUSER="$user" PGPASSWORD="$(cat "$password_file")" pg_dump --format=custom --no-password --dbname="$db" --file="$dumps/${db}.dump"; then
    echo "backup: pg_dump of ${db} failed; no snapshot taken" >&2
    exit 1
  fi
  echo "backup: dumped ${db} ($(wc -c < "$dumps/${db}.dump") bytes)"
done <<'TARGETS'
{{ include "mlops-stack.db.dumpTargets" . }}
TARGETS
restic backup --host "$RESTIC_HOST" --tag mlops-stack --exclude .mlops-restore "$dumps"{{ range (include "mlops-stack.backup.stores" . | fromYamlArray) }} {{ .mountPath }}{{ end }}
rm -rf -- "$dumps"
restic forget --host "$RESTIC_HOST" --tag mlops-stack --prune{{ range $period, $count := .Values.backup.restic.keep }} --keep-{{ $period }} {{ $count }}{{ end }}
if ! restic check --read-data-subset={{ .Values.backup.restic.verifySubset | quote }}; then
  echo "backup: restic check found damage in ${RESTIC_REPOSITORY}: the newest snapshots may not restore; run the verify job (full read) and see README \"Backups\"" >&2
  exit 1
fi
restic stats --host "$RESTIC_HOST" --mode raw-data latest
echo "backup: done in $(( $(date +%s) - started )) s"
{{- end }}

{{/* The full verification: every byte of every pack read back and checked against its hash. */}}
{{- define "mlops-stack.backup.resticVerifyScript" -}}
{{ include "mlops-stack.backup.resticPreamble" (dict "ctx" . "init" false) }}
if ! restic check --read-data; then
  echo "verify: the backup repository ${RESTIC_REPOSITORY} is damaged (restic check --read-data failed, above): take a new backup now (create a job from the backup CronJob) and do not rely on older snapshots; README \"Backups\"" >&2
  exit 1
fi
restic snapshots --host "$RESTIC_HOST" --tag mlops-stack
echo "verify: every pack of ${RESTIC_REPOSITORY} read back and matches its hash"
{{- end }}

{{/* The restore (README "Restore"), run by the restore Job while MLflow, Prefect and SFTP are stopped:
     RESTORE_SNAPSHOT (default latest) of this release's snapshots; each database restored with pg_restore
     --clean in one transaction, as its own role; then each store replaced by the snapshot's copy (restored
     beside it first, so a failed restore leaves the store as it was). */}}
{{- define "mlops-stack.backup.resticRestoreScript" -}}
{{ include "mlops-stack.backup.resticPreamble" (dict "ctx" . "init" false) }}
started="$(date +%s)"
snapshot="${RESTORE_SNAPSHOT:-latest}"
dumps={{ include "mlops-stack.backup.dumpsDir" . }}
staging=/backups/.restore
echo "restore: snapshot ${snapshot} of ${RESTIC_HOST} from ${RESTIC_REPOSITORY}"
restic snapshots --host "$RESTIC_HOST" --tag mlops-stack "$snapshot"
rm -rf -- "$staging"
mkdir -p -- "$staging"
restic restore "$snapshot" --host "$RESTIC_HOST" --tag mlops-stack --target "$staging" --include "$dumps"
while read -r db user password_file; do
  if [ ! -f "$staging$dumps/${db}.dump" ]; then
    echo "restore: snapshot ${snapshot} holds no dump of database ${db}; nothing was changed" >&2
    exit 1
  fi
done <<'TARGETS'
{{ include "mlops-stack.db.dumpTargets" . }}
TARGETS
while read -r db user password_file; do
  if ! PGUSER="$user" PGPASSWORD="$(cat "$password_file")" pg_restore --no-password --clean --if-exists --no-owner --no-acl --single-transaction --exit-on-error --dbname="$db" "$staging$dumps/${db}.dump"; then
    echo "restore: pg_restore of ${db} failed (rolled back: ${db} is as it was)" >&2
    exit 1
  fi
  echo "restore: database ${db} restored"
done <<'TARGETS'
{{ include "mlops-stack.db.dumpTargets" . }}
TARGETS
rm -rf -- "$staging"
{{- range (include "mlops-stack.backup.stores" . | fromYamlArray) }}
store={{ .mountPath }}
rm -rf -- "$store/.mlops-restore"
mkdir -- "$store/.mlops-restore"
restic restore "$snapshot" --host "$RESTIC_HOST" --tag mlops-stack --target "$store/.mlops-restore" --include "$store"
find "$store" -mindepth 1 -maxdepth 1 ! -name .mlops-restore -exec rm -rf -- {} +
find "$store/.mlops-restore$store" -mindepth 1 -maxdepth 1 -exec mv -- {} "$store/" \;
rm -rf -- "$store/.mlops-restore"
echo "restore: store $store restored ($(find "$store" -type f | wc -l) files)"
{{- end }}
echo "restore: done in $(( $(date +%s) - started )) s"
{{- end }}

{{/* The restore's last step (files/restore-accounts.py, MLflow image): the accounts whose passwords are in
     this release's Secrets get them again in the restored auth database. */}}
{{- define "mlops-stack.backup.accountsContainer" -}}
- name: accounts
  {{- include "mlops-stack.containerImage" (dict "ctx" . "image" .Values.mlflow.image) | nindent 2 }}
  command: [python3, {{ include "mlops-stack.scriptsDir" . }}/restore-accounts.py]
  env:
    - name: HOME
      value: /tmp
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
    {{- include "mlops-stack.mlflow.dbEnv" . | nindent 4 }}
    - name: ACCOUNTS
      value: |
        {{ .Values.mlflow.auth.adminUsername }}={{ include "mlops-stack.mlflow.adminPasswordFile" . }}
        {{- if include "mlops-stack.prefect.workerEnabled" . }}
        {{ .Values.prefect.worker.mlflowUsername }}={{ include "mlops-stack.prefect.workerMlflowPasswordFile" . }}
        {{- end }}
  securityContext:
    {{- include "mlops-stack.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.initResources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- include "mlops-stack.db.clientMounts" . | nindent 4 }}
    {{- include "mlops-stack.scriptsMount" . | nindent 4 }}
    {{- include "mlops-stack.mlflow.authMount" . | nindent 4 }}
    {{- if include "mlops-stack.prefect.workerEnabled" . }}
    {{- include "mlops-stack.prefect.workerMlflowMount" . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "mlops-stack.backup.accountsVolumes" -}}
{{ include "mlops-stack.scriptsVolume" . }}
{{ include "mlops-stack.mlflow.authVolume" (dict "ctx" . "server" false) }}
{{- if include "mlops-stack.prefect.workerEnabled" . }}
{{ include "mlops-stack.prefect.workerMlflowVolume" . }}
{{- end }}
{{- end }}
