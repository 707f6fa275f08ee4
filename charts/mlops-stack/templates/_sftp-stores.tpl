{{/* The SFTP pod's two stores, each served by an sshd of its own that sees only its own directory of the
     data PVC (issue 13: a data scientist's DVC key must reach nothing of MLflow's artifacts, MLflow's key
     nothing of the DVC data; without root there is no chroot, and sshd serves everything its UID can
     read, so the separation is what each container has mounted). Both stores stay on the one PVC at the
     paths they always had (`subPath`), so existing installs keep their data without a copy and every
     stored path (MLflow's artifacts destination, DVC remotes `/data/dvc/<project>`) stays valid.
       dvc:    data scientists' and the Prefect worker's keys; the user-facing Service (sftp.service)
       mlflow: MLflow's key only; a ClusterIP Service reachable from MLflow's pods only (NetworkPolicy) */}}

{{- define "mlops-stack.sftp.stores" -}}
dvc:
  container: sftp
  port: 2222
  subPath: dvc
  authorizedKeysVolume: authorized-keys
mlflow:
  container: sftp-mlflow
  port: {{ include "mlops-stack.sftp.mlflowStorePort" . }}
  subPath: mlflow-artifacts
  authorizedKeysVolume: authorized-keys-mlflow
{{- end }}

{{/* MLflow's store's sshd port (the pod's two sshds share one network namespace) and its Service. */}}
{{- define "mlops-stack.sftp.mlflowStorePort" -}}
2223
{{- end }}

{{- define "mlops-stack.sftp.mlflowStoreServiceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "sftp-mlflow") }}
{{- end }}

{{/* Where each server container finds its host keys: its own subPath of the host-keys emptyDir, made and
     sealed by stage-host-keys (one directory per sshd: both lock their keys after loading them, and one
     shared directory would be locked by the first sshd before the second had read it). */}}
{{- define "mlops-stack.sftp.hostKeysDir" -}}
/var/lib/sftp-host-keys
{{- end }}

{{/* One server container. Call with (dict "ctx" . "store" "dvc"|"mlflow"). Writable for the client: its
     store only; /tmp (the passwd entry the init container wrote) and /dev/shm (the runtime's 1777 tmpfs)
     are read-only mounts, the host-key directory is sealed by run-sftp. The extras go to the DVC store's
     sshd only: MLflow's store's sshd mounts nothing but what it needs. */}}
{{- define "mlops-stack.sftp.serverContainer" -}}
{{- $ := .ctx }}
{{- $store := index (include "mlops-stack.sftp.stores" $ | fromYaml) .store }}
{{- $dataDir := printf "/data/%s" $store.subPath -}}
- name: {{ $store.container }}
  {{- include "mlops-stack.containerImage" (dict "ctx" $ "image" $.Values.sftp.image) | nindent 2 }}
  command: [run-sftp]
  ports:
    - name: {{ $store.container }}
      containerPort: {{ $store.port }}
      protocol: TCP
  env:
    - name: SFTP_USER
      value: {{ $.Values.sftp.user | quote }}
    - name: SFTP_PORT
      value: {{ $store.port | quote }}
    - name: SFTP_DATA_DIR
      value: {{ $dataDir }}
    - name: SFTP_HOST_KEYS_DIR
      value: {{ include "mlops-stack.sftp.hostKeysDir" $ }}
    {{- if eq .store "dvc" }}
    {{- with $.Values.sftp.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- end }}
  {{- if eq .store "dvc" }}
  {{- with $.Values.sftp.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  startupProbe:
    tcpSocket: {port: {{ $store.container }}}
    periodSeconds: 2
    failureThreshold: 30
  readinessProbe:
    tcpSocket: {port: {{ $store.container }}}
    periodSeconds: 10
  livenessProbe:
    tcpSocket: {port: {{ $store.container }}}
    periodSeconds: 20
    failureThreshold: 3
  securityContext:
    {{- include "mlops-stack.containerSecurityContext" $ | nindent 4 }}
  resources:
    {{- toYaml $.Values.sftp.resources | nindent 4 }}
  volumeMounts:
    - name: data
      mountPath: {{ $dataDir }}
      subPath: {{ $store.subPath }}
    - name: tmp
      mountPath: /tmp
      readOnly: true
    - name: no-shm
      mountPath: /dev/shm
      readOnly: true
    - name: host-keys
      mountPath: {{ include "mlops-stack.sftp.hostKeysDir" $ }}
      subPath: {{ .store }}
    - name: {{ $store.authorizedKeysVolume }}
      mountPath: /etc/sftp/authorized-keys
      readOnly: true
    {{- if eq .store "dvc" }}
    {{- with $.Values.sftp.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- end }}
{{- end }}
