{{/* Pieces shared by several pod specs. */}}

{{/* known_hosts for MLflow's SFTP client: built from the host-key Secret by an init container, so that
     StrictHostKeyChecking stays on without trusting the first connection. The private host key is only
     mounted into this short-lived init container, never into the server container. */}}
{{- define "mlops-stack.knownHostsInitContainer" -}}
{{- $svc := include "mlops-stack.sftp.serviceName" . }}
{{- $port := int .Values.sftp.service.port }}
{{- $names := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.%s" $svc .Release.Namespace .Values.clusterDomain) }}
{{- $bracketed := list }}
{{- range $names }}{{ $bracketed = append $bracketed (printf "[%s]:%d" . $port) }}{{ end -}}
- name: known-hosts
  image: {{ include "mlops-stack.image" (dict "ctx" . "image" .Values.mlflow.image) }}
  imagePullPolicy: {{ .Values.mlflow.image.pullPolicy }}
  command:
    - python3
    - /opt/mlops-stack/scripts/ssh-public-keys.py
    - known-hosts
    - --out
    - /var/run/mlops-ssh/known_hosts
    - --names
    - {{ join "," $bracketed | quote }}
    - /etc/sftp/host-keys-source/ssh_host_ecdsa_key
    - /etc/sftp/host-keys-source/ssh_host_rsa_key
    - /etc/sftp/host-keys-source/ssh_host_ed25519_key
  env:
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
  securityContext:
    {{- include "mlops-stack.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.initResources | nindent 4 }}
  volumeMounts:
    - name: scripts
      mountPath: /opt/mlops-stack/scripts
      readOnly: true
    - name: sftp-host-keys
      mountPath: /etc/sftp/host-keys-source
      readOnly: true
    - name: ssh-config
      mountPath: /var/run/mlops-ssh
{{- end }}

{{/* Volumes for the init container above plus MLflow's SFTP client key. */}}
{{- define "mlops-stack.sftpClientVolumes" -}}
- name: scripts
  configMap:
    name: {{ include "mlops-stack.componentName" (dict "ctx" . "component" "scripts") }}
    defaultMode: 0444
- name: sftp-host-keys
  secret:
    secretName: {{ include "mlops-stack.sftp.hostKeysSecretName" . }}
    defaultMode: 0440
- name: ssh-config
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: sftp-client-key
  secret:
    secretName: {{ include "mlops-stack.mlflow.sftpKeySecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.mlflow.sftpClientKey.key }}
        path: id_mlflow
{{- end }}

{{- define "mlops-stack.sftpClientMounts" -}}
- name: ssh-config
  mountPath: /var/run/mlops-ssh
  readOnly: true
- name: sftp-client-key
  mountPath: /var/run/secrets/mlops-stack/sftp
  readOnly: true
{{- end }}

{{- define "mlops-stack.sftpClientEnv" -}}
- name: MLOPS_SFTP_KEY_FILE
  value: /var/run/secrets/mlops-stack/sftp/id_mlflow
- name: MLOPS_SFTP_KNOWN_HOSTS
  value: /var/run/mlops-ssh/known_hosts
{{- end }}

{{/* pg_dump of both MLflow databases into /backups, then keep the newest `retention` dumps per database
     and kind. Each dump is written under a temporary name and renamed when complete, so a partial dump
     never counts as a backup. Call with (dict "ctx" $ "kind" "scheduled"). */}}
{{- define "mlops-stack.pgDumpScript" -}}
set -eu
umask 027
PGPASSWORD="$(cat /var/run/secrets/mlops-stack/db/password)"
export PGPASSWORD
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
for db in {{ include "mlops-stack.db.name" .ctx }} {{ include "mlops-stack.db.authName" .ctx }}; do
  file="/backups/${db}-{{ .kind }}-${stamp}.dump"
  if ! pg_dump --format=custom --no-password --dbname="$db" --file="${file}.partial"; then
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
done
{{- end }}

{{- define "mlops-stack.pgClientEnv" -}}
- name: PGHOST
  value: {{ include "mlops-stack.db.host" . | quote }}
- name: PGPORT
  value: {{ include "mlops-stack.db.port" . | quote }}
- name: PGUSER
  value: {{ include "mlops-stack.db.user" . | quote }}
{{- end }}
