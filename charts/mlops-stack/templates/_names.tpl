{{/* Names: of the release, its components, Services and Secrets' owners; labels; image references. */}}

{{- define "mlops-stack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "mlops-stack.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's resources: <fullname>-<component>. Call with (dict "ctx" $ "component" "mlflow").
     The prefix is cut to 40 characters so that the longest Service name (<prefix>-postgresql-headless)
     stays a DNS label (63) and StatefulSet pod names stay within the 52-character controller limit. */}}
{{- define "mlops-stack.componentName" -}}
{{- printf "%s-%s" (include "mlops-stack.fullname" .ctx | trunc 40 | trimSuffix "-") .component }}
{{- end }}

{{- define "mlops-stack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlops-stack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlops-stack.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Services ----------------------------------------------------------------------------------------- */}}

{{- define "mlops-stack.mlflow.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "mlflow") }}
{{- end }}

{{- define "mlops-stack.sftp.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "sftp") }}
{{- end }}

{{- define "mlops-stack.postgresql.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "postgresql") }}
{{- end }}

{{- define "mlops-stack.prefect.serviceName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "prefect") }}
{{- end }}

{{- define "mlops-stack.prefect.workerName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "prefect-worker") }}
{{- end }}

{{/* Governing (headless) Service of the PostgreSQL StatefulSet. */}}
{{- define "mlops-stack.postgresql.headlessServiceName" -}}
{{- include "mlops-stack.postgresql.serviceName" . }}-headless
{{- end }}

{{/* Every in-cluster DNS name of a Service, comma-separated: svc, svc.ns, svc.ns.svc, svc.ns.svc.<clusterDomain>.
     Call with (dict "ctx" $ "service" <Service name>). */}}
{{- define "mlops-stack.serviceDnsNames" -}}
{{- $ns := .ctx.Release.Namespace }}
{{- join "," (list .service (printf "%s.%s" .service $ns) (printf "%s.%s.svc" .service $ns) (printf "%s.%s.svc.%s" .service $ns .ctx.Values.clusterDomain)) }}
{{- end }}

{{/* ConfigMap of the chart's scripts (files/): the authorized-keys init container and the `helm test` pod. */}}
{{- define "mlops-stack.scriptsConfigMapName" -}}
{{- include "mlops-stack.componentName" (dict "ctx" . "component" "scripts") }}
{{- end }}

{{/* Labels ----------------------------------------------------------------------------------------- */}}

{{- define "mlops-stack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlops-stack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mlops-stack.labels" -}}
helm.sh/chart: {{ include "mlops-stack.chart" . }}
{{ include "mlops-stack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlops-stack
{{- end }}

{{/* Labels of one component. Call with (dict "ctx" $ "component" "mlflow"). */}}
{{- define "mlops-stack.componentLabels" -}}
{{ include "mlops-stack.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "mlops-stack.componentSelectorLabels" -}}
{{ include "mlops-stack.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Images ----------------------------------------------------------------------------------------- */}}

{{/* A container's `image` (global.imageRegistry / repository : tag, the chart's appVersion by default) and
     `imagePullPolicy` lines. Call with (dict "ctx" $ "image" .Values.mlflow.image). */}}
{{- define "mlops-stack.containerImage" -}}
{{- $registry := .ctx.Values.global.imageRegistry | trimSuffix "/" }}
{{- $repository := .image.repository }}
{{- if $registry }}{{ $repository = printf "%s/%s" $registry $repository }}{{ end -}}
image: {{ printf "%s:%s" $repository (default .ctx.Chart.AppVersion .image.tag) }}
imagePullPolicy: {{ .image.pullPolicy }}
{{- end }}
