{{/* Cross-field checks the JSON schema cannot express; each message says what to set. */}}
{{/* Included once from NOTES-free validation.yaml so that `helm template`, `install` and `upgrade` all fail early. */}}
{{- define "mlops-stack.validate" -}}
{{- $errors := list }}

{{/* Plaintext secrets: never accepted in values (they would sit in the release history in clear). */}}
{{- range $path, $value := dict
      "postgresql.auth.password" .Values.postgresql.auth.password
      "postgresql.auth.postgresPassword" .Values.postgresql.auth.postgresPassword
      "externalDatabase.password" .Values.externalDatabase.password
      "mlflow.auth.adminPassword" .Values.mlflow.auth.adminPassword
      "mlflow.auth.flaskSecretKey" .Values.mlflow.auth.flaskSecretKey }}
{{- if $value }}
{{- $errors = append $errors (printf "%s: plaintext secrets are not accepted in values (they would be stored in the release history). Create a Secret and set the matching existingSecret value instead." $path) }}
{{- end }}
{{- end }}

{{/* Database: in-chart PostgreSQL xor externalDatabase. */}}
{{- if .Values.postgresql.enabled }}
{{- if .Values.externalDatabase.host }}
{{- $errors = append $errors "externalDatabase.host is set while postgresql.enabled is true: set postgresql.enabled=false to use the external database, or empty externalDatabase.host." }}
{{- end }}
{{- else }}
{{- if not .Values.externalDatabase.host }}
{{- $errors = append $errors "postgresql.enabled is false: set externalDatabase.host (and externalDatabase.existingSecret) to your PostgreSQL server." }}
{{- end }}
{{- if not .Values.externalDatabase.existingSecret }}
{{- $errors = append $errors (printf "externalDatabase.existingSecret is required with an external database: create a Secret holding the password of user %q under the key %q and set its name." .Values.externalDatabase.user .Values.externalDatabase.existingSecretPasswordKey) }}
{{- end }}
{{- if eq .Values.externalDatabase.database .Values.externalDatabase.authDatabase }}
{{- $errors = append $errors "externalDatabase.database and externalDatabase.authDatabase must differ: MLflow's tracking store and its basic-auth store need separate databases." }}
{{- end }}
{{- end }}
{{- if and .Values.postgresql.enabled (eq .Values.postgresql.auth.database .Values.postgresql.auth.authDatabase) }}
{{- $errors = append $errors "postgresql.auth.database and postgresql.auth.authDatabase must differ: MLflow's tracking store and its basic-auth store need separate databases." }}
{{- end }}

{{/* Exposure: MLflow rejects requests whose Host header it was not told about. */}}
{{- if and (include "mlops-stack.routeEnabled" .) (not .Values.route.host) }}
{{- $errors = append $errors "route.host is required when a Route is created: MLflow only answers to the host names in --allowed-hosts. Set route.host (e.g. mlflow.apps.example.com) or route.enabled=false." }}
{{- end }}
{{- if and (include "mlops-stack.ingressEnabled" .) (not .Values.ingress.host) }}
{{- $errors = append $errors "ingress.host is required when ingress.enabled is true: MLflow only answers to the host names in --allowed-hosts. Set ingress.host (e.g. mlflow.example.com)." }}
{{- end }}
{{- if and .Values.route.force .Values.ingress.enabled }}
{{- $errors = append $errors "route.force and ingress.enabled are both true: MLflow is exposed once. Set route.force=false to use the Ingress, or ingress.enabled=false to use the Route." }}
{{- end }}

{{/* Prefect: its own public host beside MLflow's, its own database, the worker's MLflow account. */}}
{{- if .Values.prefect.enabled }}
{{- if and .Values.prefect.host (eq .Values.prefect.host (include "mlops-stack.publicHost" .)) }}
{{- $errors = append $errors (printf "prefect.host %q is MLflow's host too: give Prefect a host name of its own (both serve /)." .Values.prefect.host) }}
{{- end }}
{{- if .Values.postgresql.enabled }}
{{- $name := .Values.prefect.database.name }}
{{- if or (eq $name .Values.postgresql.auth.username) (eq $name .Values.postgresql.auth.database) (eq $name .Values.postgresql.auth.authDatabase) (eq $name "postgres") }}
{{- $errors = append $errors (printf "prefect.database.name %q is already MLflow's role or database (or the superuser): the Prefect server needs a role and database of its own, e.g. prefect." $name) }}
{{- end }}
{{- else if has .Values.externalDatabase.prefectDatabase (list .Values.externalDatabase.database .Values.externalDatabase.authDatabase) }}
{{- $errors = append $errors "externalDatabase.prefectDatabase must differ from externalDatabase.database and externalDatabase.authDatabase: the Prefect server needs a database of its own." }}
{{- end }}
{{- if and .Values.prefect.worker.enabled (not .Values.mlflow.auth.enabled) }}
{{- $errors = append $errors "prefect.worker.enabled needs mlflow.auth.enabled=true: the worker's flows log in to MLflow with an account of their own. Turn MLflow's auth on, or set prefect.worker.enabled=false." }}
{{- end }}
{{- if and .Values.prefect.worker.enabled (eq .Values.prefect.worker.mlflowUsername .Values.mlflow.auth.adminUsername) }}
{{- $errors = append $errors (printf "prefect.worker.mlflowUsername %q is the MLflow admin: the worker gets an account of its own (e.g. prefect-worker), never the admin's." .Values.prefect.worker.mlflowUsername) }}
{{- end }}
{{- end }}

{{/* SFTP service. */}}
{{- if and (not (kindIs "invalid" .Values.sftp.service.nodePort)) (ne .Values.sftp.service.type "NodePort") }}
{{- $errors = append $errors (printf "sftp.service.nodePort is set but sftp.service.type is %s: set sftp.service.type=NodePort, or remove the nodePort." .Values.sftp.service.type) }}
{{- end }}
{{- if and .Values.sftp.service.loadBalancerSourceRanges (ne .Values.sftp.service.type "LoadBalancer") }}
{{- $errors = append $errors (printf "sftp.service.loadBalancerSourceRanges is set but sftp.service.type is %s: set sftp.service.type=LoadBalancer, or remove the ranges." .Values.sftp.service.type) }}
{{- end }}
{{- range $i, $key := .Values.sftp.authorizedKeys }}
{{- if contains "PRIVATE KEY" $key }}
{{- $errors = append $errors (printf "sftp.authorizedKeys[%d] is a private key: put the public key line (the .pub file, e.g. 'ssh-ed25519 AAAA... user@host') here and keep the private key on the user's machine." $i) }}
{{- else if not (regexMatch "^((sk-)?(ssh-ed25519|ecdsa-sha2-nistp(256|384|521))(@openssh\\.com)?|ssh-rsa) [A-Za-z0-9+/]+=*( .*)?$" (trim $key)) }}
{{- $errors = append $errors (printf "sftp.authorizedKeys[%d] (%q) is not an OpenSSH public key line: paste the content of the user's .pub file, e.g. 'ssh-ed25519 AAAAC3Nza... alice@laptop'." $i (trunc 40 $key)) }}
{{- end }}
{{- end }}
{{- range $path, $cidrs := dict "networkPolicy.sftp.clientCIDRs" .Values.networkPolicy.sftp.clientCIDRs "sftp.service.loadBalancerSourceRanges" .Values.sftp.service.loadBalancerSourceRanges }}
{{- range $i, $cidr := $cidrs }}
{{- if not (regexMatch "^(([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])|[0-9a-fA-F:]+/[0-9]{1,3})$" $cidr) }}
{{- $errors = append $errors (printf "%s[%d] = %q is not a CIDR: write a network with its prefix length, e.g. 10.20.0.0/16 (a single address is 10.20.0.5/32)." $path $i $cidr) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Backups. */}}
{{- if not (regexMatch "^(@(hourly|daily|weekly|monthly|yearly)|([^ ]+ +){4}[^ ]+)$" .Values.backup.schedule) }}
{{- $errors = append $errors (printf "backup.schedule %q is not a cron schedule: use five fields (minute hour day-of-month month day-of-week), e.g. \"15 2 * * *\" for 02:15 daily, or @daily." .Values.backup.schedule) }}
{{- end }}

{{/* Pod security: the images refuse root, and so does runAsNonRoot. */}}
{{- if and (not (kindIs "invalid" .Values.podSecurity.runAsUser)) (eq (int .Values.podSecurity.runAsUser) 0) }}
{{- $errors = append $errors "podSecurity.runAsUser is 0 (root): every pod runs with runAsNonRoot. Leave it empty on OpenShift, or set a non-root UID such as 1001." }}
{{- end }}

{{/* Images: a moving tag breaks the pinned image contract and rollbacks. */}}
{{- range $component := list "mlflow" "postgresql" "sftp" "prefect" }}
{{- if eq (index $.Values $component).image.tag "latest" }}
{{- $errors = append $errors (printf "%s.image.tag is \"latest\": pin a version (e.g. %s) so that upgrades and rollbacks are reproducible, or leave it empty for the chart's appVersion." $component $.Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Metrics. */}}
{{- if and .Values.mlflow.metrics.serviceMonitor.enabled (not .Values.mlflow.metrics.enabled) }}
{{- $errors = append $errors "mlflow.metrics.serviceMonitor.enabled needs mlflow.metrics.enabled=true (the ServiceMonitor would scrape an endpoint that does not exist)." }}
{{- end }}
{{- if and .Values.mlflow.metrics.serviceMonitor.enabled (not .Values.mlflow.auth.enabled) }}
{{- $errors = append $errors "mlflow.metrics.serviceMonitor.enabled needs mlflow.auth.enabled=true: the ServiceMonitor authenticates with the MLflow admin credentials." }}
{{- end }}

{{/* Resources: every container has requests and limits. */}}
{{- range $component := list "mlflow" "postgresql" "sftp" "migration" "backup" "prefect.server" "prefect.worker" }}
{{- $resources := $.Values }}
{{- range splitList "." $component }}{{ $resources = index $resources . }}{{ end }}
{{- $resources = $resources.resources }}
{{- range $kind := list "requests" "limits" }}
{{- range $resource := list "cpu" "memory" }}
{{- if not (index ($resources | default dict) $kind | default dict | dig $resource "") }}
{{- $errors = append $errors (printf "%s.resources.%s.%s is required: every container of this chart has requests and limits (quota-enforcing namespaces reject pods without them)." $component $kind $resource) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- if $errors }}
{{- fail (printf "\n\nmlops-stack: invalid values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
