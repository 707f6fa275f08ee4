{{/* Prefect: what is rendered, its exposure (own Route/Ingress beside MLflow's), URLs, and the Secrets of the
     server's auth string and of the worker (MLflow password, SSH key). */}}

{{- define "mlops-stack.prefect.workerEnabled" -}}
{{- if and .Values.prefect.enabled .Values.prefect.worker.enabled }}true{{ end }}
{{- end }}

{{/* Route or Ingress of the Prefect server: the same choice as MLflow's (mlops-stack.routeEnabled /
     ingressEnabled), when prefect.host names its public host; without one Prefect stays inside the cluster
     (NOTES.txt says so and how to reach it). */}}
{{- define "mlops-stack.prefect.routeEnabled" -}}
{{- if and .Values.prefect.enabled .Values.prefect.host (include "mlops-stack.routeEnabled" .) }}true{{ end }}
{{- end }}

{{- define "mlops-stack.prefect.ingressEnabled" -}}
{{- if and .Values.prefect.enabled .Values.prefect.host (include "mlops-stack.ingressEnabled" .) }}true{{ end }}
{{- end }}

{{/* The API URL inside the cluster (the worker, the hook Jobs). */}}
{{- define "mlops-stack.prefect.internalApiUrl" -}}
http://{{ include "mlops-stack.prefect.serviceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.prefect.server.service.port }}/api
{{- end }}

{{/* The URL people open: the public host (https, or http on an Ingress without TLS), else the Service. */}}
{{- define "mlops-stack.prefect.publicUrl" -}}
{{- if or (include "mlops-stack.prefect.routeEnabled" .) (include "mlops-stack.prefect.ingressEnabled" .) }}
{{- if and (include "mlops-stack.prefect.ingressEnabled" .) (not .Values.prefect.tlsSecretName) }}http://{{ else }}https://{{ end }}{{ .Values.prefect.host }}
{{- else }}{{ include "mlops-stack.prefect.internalApiUrl" . | trimSuffix "/api" }}
{{- end }}
{{- end }}

{{/* PREFECT_UI_API_URL: what the browser's UI calls. */}}
{{- define "mlops-stack.prefect.uiApiUrl" -}}
{{- default (printf "%s/api" (include "mlops-stack.prefect.publicUrl" .)) .Values.prefect.uiApiUrl }}
{{- end }}

{{- define "mlops-stack.prefect.authSecretName" -}}
{{- default (include "mlops-stack.prefect.serviceName" .) .Values.prefect.auth.existingSecret }}
{{- end }}

{{/* The auth string as a file, for the server (PREFECT_SERVER_API_AUTH_STRING_FILE) and the worker
     (PREFECT_API_AUTH_STRING_FILE). */}}
{{- define "mlops-stack.prefect.authVolume" -}}
- name: prefect-auth
  secret:
    secretName: {{ include "mlops-stack.prefect.authSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.prefect.auth.key }}
        path: auth-string
{{- end }}

{{- define "mlops-stack.prefect.authMount" -}}
- name: prefect-auth
  mountPath: {{ include "mlops-stack.secretDir" "prefect" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.prefect.authFile" -}}
{{ include "mlops-stack.secretDir" "prefect" }}/auth-string
{{- end }}

{{/* The worker's generated credentials: its MLflow password and its SSH key for DVC on the SFTP server. */}}
{{- define "mlops-stack.prefect.workerSecretName" -}}
{{- default (include "mlops-stack.prefect.workerName" .) .Values.prefect.worker.existingSecret }}
{{- end }}

{{/* Only the worker's SSH key, for the SFTP pod's authorized-keys init container (file name = key comment). */}}
{{- define "mlops-stack.prefect.workerSshKeyVolume" -}}
- name: prefect-worker-ssh-key
  secret:
    secretName: {{ include "mlops-stack.prefect.workerSecretName" . }}
    defaultMode: 0440
    items:
      - key: ssh-privatekey
        path: prefect-worker
{{- end }}

{{- define "mlops-stack.prefect.workerSshKeyMount" -}}
- name: prefect-worker-ssh-key
  mountPath: {{ include "mlops-stack.secretDir" "prefect-worker-ssh" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.prefect.workerSshKeyFile" -}}
{{ include "mlops-stack.secretDir" "prefect-worker-ssh" }}/prefect-worker
{{- end }}

{{/* Only the worker's MLflow password (the worker pod and the hook Job that creates the account). */}}
{{- define "mlops-stack.prefect.workerMlflowVolume" -}}
- name: prefect-worker-mlflow
  secret:
    secretName: {{ include "mlops-stack.prefect.workerSecretName" . }}
    defaultMode: 0440
    items:
      - key: mlflow-password
        path: mlflow-password
{{- end }}

{{- define "mlops-stack.prefect.workerMlflowMount" -}}
- name: prefect-worker-mlflow
  mountPath: {{ include "mlops-stack.secretDir" "prefect-worker-mlflow" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.prefect.workerMlflowPasswordFile" -}}
{{ include "mlops-stack.secretDir" "prefect-worker-mlflow" }}/mlflow-password
{{- end }}

{{/* The DVC remote of the flows inside the cluster: the SFTP Service (the project's own .dvc/config names
     the host data scientists reach from outside). */}}
{{- define "mlops-stack.prefect.dvcRemoteUrl" -}}
{{- printf "ssh://%s@%s:%d/data/dvc" .Values.sftp.user (include "mlops-stack.sftp.serviceName" .) (int .Values.sftp.service.port) }}
{{- end }}

{{/* MLflow inside the cluster, as the worker's flows and the account Job reach it. */}}
{{- define "mlops-stack.mlflow.internalUrl" -}}
http://{{ include "mlops-stack.mlflow.serviceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.mlflow.service.port }}
{{- end }}
