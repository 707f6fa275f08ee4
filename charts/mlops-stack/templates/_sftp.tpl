{{/* The SFTP server's names and Secrets, and its clients' side: known_hosts init container, client key, volumes, mounts and env. */}}

{{- define "mlops-stack.sftp.claimName" -}}
{{- default (include "mlops-stack.sftp.serviceName" .) .Values.sftp.persistence.existingClaim }}
{{- end }}

{{- define "mlops-stack.sftp.hostKeysSecretName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "sftp-host-keys")) .Values.sftp.hostKeys.existingSecret }}
{{- end }}

{{/* Where pods mount the host-key Secret (the sftp image's contract, images/README.md). */}}
{{- define "mlops-stack.sftp.hostKeysSourceDir" -}}
/etc/sftp/host-keys-source
{{- end }}

{{- define "mlops-stack.sftp.authorizedKeysConfigMapName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "sftp-authorized-keys") }}
{{- end }}

{{/* MLflow's artifact store: the path it always had, on the sshd that serves nothing else (_sftp-stores.tpl). */}}
{{- define "mlops-stack.artifactsDestination" -}}
{{- printf "sftp://%s@%s:%s/data/mlflow-artifacts" .Values.sftp.user (include "mlops-stack.sftp.mlflowStoreServiceName" .) (include "mlops-stack.sftp.mlflowStorePort" .) }}
{{- end }}

{{/* MLflow's SSH identity on the SFTP server: the Secret, its volume (in the MLflow pods, and in the SFTP pod,
     which derives authorized_keys from it) and the key file. */}}
{{- define "mlops-stack.mlflow.sftpKeySecretName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "mlflow-sftp-key")) .Values.mlflow.sftpClientKey.existingSecret }}
{{- end }}

{{- define "mlops-stack.sftpClientKeyVolume" -}}
- name: sftp-client-key
  secret:
    secretName: {{ include "mlops-stack.mlflow.sftpKeySecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.mlflow.sftpClientKey.key }}
        path: id_mlflow
{{- end }}

{{- define "mlops-stack.sftpClientKeyMount" -}}
- name: sftp-client-key
  mountPath: {{ include "mlops-stack.secretDir" "sftp" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.sftpClientKeyFile" -}}
{{ include "mlops-stack.secretDir" "sftp" }}/id_mlflow
{{- end }}

{{/* Where the SFTP clients find known_hosts. */}}
{{- define "mlops-stack.sshConfigDir" -}}
/var/run/mlops-ssh
{{- end }}

{{/* known_hosts for MLflow's SFTP client: built from the host-key Secret by an init container, so that
     StrictHostKeyChecking stays on without trusting the first connection. The private host key is only
     mounted into this short-lived init container, never into the server container. mlops_stack.ssh writes
     each name as OpenSSH looks it up with the port ([name]:port). */}}
{{- define "mlops-stack.knownHostsInitContainer" -}}
{{- include "mlops-stack.knownHostsInitContainerFor" (dict "ctx" . "service" (include "mlops-stack.sftp.mlflowStoreServiceName" .) "port" (include "mlops-stack.sftp.mlflowStorePort" .)) }}
{{- end }}

{{/* The same for the DVC store (the Prefect worker's flows): the user-facing Service and port. */}}
{{- define "mlops-stack.dvcKnownHostsInitContainer" -}}
{{- include "mlops-stack.knownHostsInitContainerFor" (dict "ctx" . "service" (include "mlops-stack.sftp.serviceName" .) "port" (toString .Values.sftp.service.port)) }}
{{- end }}

{{- define "mlops-stack.knownHostsInitContainerFor" -}}
{{- $service := .service }}
{{- $port := .port }}
{{- with .ctx }}
{{- $hostKeys := include "mlops-stack.sftp.hostKeysSourceDir" . -}}
- name: known-hosts
  {{- include "mlops-stack.containerImage" (dict "ctx" . "image" .Values.mlflow.image) | nindent 2 }}
  command:
    - python3
    - -m
    - mlops_stack.ssh
    - known-hosts
    - --out
    - {{ include "mlops-stack.sshConfigDir" . }}/known_hosts
    - --port
    - {{ $port | quote }}
    - --names
    - {{ include "mlops-stack.serviceDnsNames" (dict "ctx" . "service" $service) | quote }}
    - {{ $hostKeys }}/ssh_host_ecdsa_key
    - {{ $hostKeys }}/ssh_host_rsa_key
    - {{ $hostKeys }}/ssh_host_ed25519_key
  env:
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
  securityContext:
    {{- include "mlops-stack.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.initResources | nindent 4 }}
  volumeMounts:
    - name: sftp-host-keys
      mountPath: {{ $hostKeys }}
      readOnly: true
    - name: ssh-config
      mountPath: {{ include "mlops-stack.sshConfigDir" . }}
{{- end }}
{{- end }}

{{/* Volumes of the init container above plus MLflow's SFTP client key. */}}
{{- define "mlops-stack.sftpClientVolumes" -}}
- name: sftp-host-keys
  secret:
    secretName: {{ include "mlops-stack.sftp.hostKeysSecretName" . }}
    defaultMode: 0440
{{ include "mlops-stack.keysVolume" "ssh-config" }}
{{ include "mlops-stack.sftpClientKeyVolume" . }}
{{- end }}

{{- define "mlops-stack.sftpClientMounts" -}}
- name: ssh-config
  mountPath: {{ include "mlops-stack.sshConfigDir" . }}
  readOnly: true
{{ include "mlops-stack.sftpClientKeyMount" . }}
{{- end }}

{{- define "mlops-stack.sftpClientEnv" -}}
- name: MLOPS_SFTP_KEY_FILE
  value: {{ include "mlops-stack.sftpClientKeyFile" . }}
- name: MLOPS_SFTP_KNOWN_HOSTS
  value: {{ include "mlops-stack.sshConfigDir" . }}/known_hosts
{{- end }}
