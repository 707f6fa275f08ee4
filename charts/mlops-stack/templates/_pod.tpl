{{/* Pod and container fields every workload shares: security contexts, common pod fields, scheduling, volumes and mount paths. */}}

{{/* Fields every pod spec of the chart shares. The pod securityContext is restricted-v2 compatible: no
     runAsUser/fsGroup unless set (OpenShift assigns them). */}}
{{- define "mlops-stack.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
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
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
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

{{/* nodeSelector, tolerations, affinity and topologySpreadConstraints of a pod, from its component's values
     (or a dict of them); empty when none is set.
     Call with .Values.mlflow (`with include ...` keeps an empty result from leaving a blank line). */}}
{{- define "mlops-stack.podScheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The writable /tmp of a pod (read-only root filesystem). Call with its size limit, e.g. .Values.sftp.tmpSizeLimit. */}}
{{- define "mlops-stack.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ . }}
{{- end }}

{{/* A small in-memory emptyDir for keys and SSH files (never on the node's disk). Call with the volume name. */}}
{{- define "mlops-stack.keysVolume" -}}
- name: {{ . }}
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}

{{/* Where a Secret of the chart is mounted: /var/run/secrets/mlops-stack/<name>. Call with the name, e.g. "db". */}}
{{- define "mlops-stack.secretDir" -}}
/var/run/secrets/mlops-stack/{{ . }}
{{- end }}

{{/* Where the scripts ConfigMap (files/) is mounted. */}}
{{- define "mlops-stack.scriptsDir" -}}
/opt/mlops-stack/scripts
{{- end }}

{{/* The scripts ConfigMap as a volume, and its mount. */}}
{{- define "mlops-stack.scriptsVolume" -}}
- name: scripts
  configMap:
    name: {{ include "mlops-stack.scriptsConfigMapName" . }}
    defaultMode: 0444
{{- end }}

{{- define "mlops-stack.scriptsMount" -}}
- name: scripts
  mountPath: {{ include "mlops-stack.scriptsDir" . }}
  readOnly: true
{{- end }}

{{/* The trusted CA bundle (global.caBundle, README "Trusted CA bundle") in the containers that make outgoing
     TLS connections from Python: the volume, its mount, and the variables that point OpenSSL's default
     context (ssl, urllib), requests, and git at it. Each renders nothing without a bundle. */}}
{{- define "mlops-stack.caBundle.file" -}}
/var/run/mlops-stack/ca-bundle/ca-bundle.crt
{{- end }}

{{- define "mlops-stack.caBundle.volume" -}}
{{- with .Values.global.caBundle.configMap }}
- name: ca-bundle
  configMap:
    name: {{ . }}
    defaultMode: 0444
    items:
      - key: {{ $.Values.global.caBundle.key }}
        path: ca-bundle.crt
{{- end }}
{{- end }}

{{- define "mlops-stack.caBundle.mount" -}}
{{- if .Values.global.caBundle.configMap }}
- name: ca-bundle
  mountPath: /var/run/mlops-stack/ca-bundle
  readOnly: true
{{- end }}
{{- end }}

{{- define "mlops-stack.caBundle.env" -}}
{{- if .Values.global.caBundle.configMap }}
{{- range $name := list "SSL_CERT_FILE" "REQUESTS_CA_BUNDLE" "GIT_SSL_CAINFO" }}
- name: {{ $name }}
  value: {{ include "mlops-stack.caBundle.file" $ }}
{{- end }}
{{- end }}
{{- end }}
