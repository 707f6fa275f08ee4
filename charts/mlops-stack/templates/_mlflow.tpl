{{/* MLflow's exposure (Route or Ingress, public host, allowed hosts, tracking URL) and its auth Secret. */}}

{{/* Whether the Route is rendered: the API exists (or it is forced) and routes are enabled. */}}
{{- define "mlops-stack.routeEnabled" -}}
{{- if and .Values.route.enabled (or .Values.route.force (.Capabilities.APIVersions.Has "route.openshift.io/v1/Route")) }}true{{ end }}
{{- end }}

{{- define "mlops-stack.ingressEnabled" -}}
{{- if and .Values.ingress.enabled (not (include "mlops-stack.routeEnabled" .)) }}true{{ end }}
{{- end }}

{{- define "mlops-stack.publicHost" -}}
{{- if include "mlops-stack.routeEnabled" . }}{{ .Values.route.host }}
{{- else if include "mlops-stack.ingressEnabled" . }}{{ .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* Host names MLflow answers to: the public host, and the Service by every in-cluster name, with the port
     (MLflow compares the whole Host header, and in-cluster clients send host:port). */}}
{{- define "mlops-stack.mlflow.allowedHosts" -}}
{{- $port := int .Values.mlflow.service.port }}
{{- $hosts := list }}
{{- with include "mlops-stack.publicHost" . }}{{ $hosts = append $hosts . }}{{ end }}
{{- range splitList "," (include "mlops-stack.serviceDnsNames" (dict "ctx" . "service" (include "mlops-stack.mlflow.serviceName" .))) }}
{{- $hosts = append $hosts (printf "%s:%d" . $port) }}
{{- end }}
{{- range .Values.mlflow.extraAllowedHosts }}{{ $hosts = append $hosts . }}{{ end }}
{{- join "," $hosts }}
{{- end }}

{{- define "mlops-stack.mlflow.trackingUrl" -}}
{{- with include "mlops-stack.publicHost" . }}
{{- if and (include "mlops-stack.ingressEnabled" $) (not $.Values.ingress.tlsSecretName) }}http://{{ . }}{{ else }}https://{{ . }}{{ end }}
{{- else }}http://{{ include "mlops-stack.mlflow.serviceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.mlflow.service.port }}
{{- end }}
{{- end }}

{{- define "mlops-stack.mlflow.authSecretName" -}}
{{- default (include "mlops-stack.mlflow.serviceName" .) .Values.mlflow.auth.existingSecret }}
{{- end }}

{{/* The auth Secret as a volume: the admin password, and with "server" true the Flask secret key too (the
     `helm test` pod gets only the password). Call with (dict "ctx" $ "server" true). */}}
{{- define "mlops-stack.mlflow.authVolume" -}}
- name: mlflow-auth
  secret:
    secretName: {{ include "mlops-stack.mlflow.authSecretName" .ctx }}
    defaultMode: 0440
    items:
      - key: {{ .ctx.Values.mlflow.auth.adminPasswordKey }}
        path: admin-password
      {{- if .server }}
      - key: {{ .ctx.Values.mlflow.auth.flaskSecretKeyKey }}
        path: flask-secret-key
      {{- end }}
{{- end }}

{{/* Where the MLflow pods mount it, and the admin password's file. */}}
{{- define "mlops-stack.mlflow.authMount" -}}
- name: mlflow-auth
  mountPath: {{ include "mlops-stack.secretDir" "mlflow" }}
  readOnly: true
{{- end }}

{{- define "mlops-stack.mlflow.adminPasswordFile" -}}
{{ include "mlops-stack.secretDir" "mlflow" }}/admin-password
{{- end }}

{{/* Prometheus: the scrape token's Secret (its own, never the auth Secret), the metrics container's port
     and the multiprocess directory the server and the metrics container share. */}}
{{- define "mlops-stack.mlflow.metricsSecretName" -}}
{{- default (include "mlops-stack.componentName" (dict "ctx" . "component" "mlflow-metrics")) .Values.mlflow.metrics.existingSecret }}
{{- end }}

{{- define "mlops-stack.mlflow.metricsPort" -}}
9102
{{- end }}

{{- define "mlops-stack.mlflow.metricsDir" -}}
/run/mlflow-metrics
{{- end }}

{{/* Placement of the MLflow replicas (README "Disruption and placement"): mlflow.affinity with the
     anti-affinity preset added when there is more than one replica, and topologySpreadConstraints with
     the MLflow pods' labels as their default labelSelector. Both as YAML (empty: `{}` / `[]`). */}}
{{- define "mlops-stack.mlflow.affinity" -}}
{{- $affinity := deepCopy .Values.mlflow.affinity }}
{{- $preset := .Values.mlflow.podAntiAffinityPreset }}
{{- if and $preset (gt (int .Values.mlflow.replicas) 1) }}
{{- $term := dict
      "labelSelector" (dict "matchLabels" (include "mlops-stack.componentSelectorLabels" (dict "ctx" . "component" "mlflow") | fromYaml))
      "topologyKey" "kubernetes.io/hostname" }}
{{- if eq $preset "hard" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
{{- else }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- end }}
{{- toYaml $affinity }}
{{- end }}

{{- define "mlops-stack.mlflow.topologySpreadConstraints" -}}
{{- $selector := dict "matchLabels" (include "mlops-stack.componentSelectorLabels" (dict "ctx" . "component" "mlflow") | fromYaml) }}
{{- $constraints := list }}
{{- range .Values.mlflow.topologySpreadConstraints }}
{{- $constraint := deepCopy . }}
{{- if not (hasKey $constraint "labelSelector") }}{{ $_ := set $constraint "labelSelector" $selector }}{{ end }}
{{- $constraints = append $constraints $constraint }}
{{- end }}
{{- toYaml $constraints }}
{{- end }}

{{/* Whether the PodDisruptionBudget is rendered: with one replica it could only block node drains. */}}
{{- define "mlops-stack.mlflow.pdbEnabled" -}}
{{- if and .Values.mlflow.podDisruptionBudget.enabled (gt (int .Values.mlflow.replicas) 1) }}true{{ end }}
{{- end }}
