{{/* Cross-field checks the JSON schema cannot express; each message says what to set. */}}

{{/* Where each component's extraEnv, extraVolumes and extraVolumeMounts go: its workload template and the
     containers that receive them (checked by mlops-stack.validate). */}}
{{- define "mlops-stack.extrasTargets" -}}
mlflow: {template: mlflow/deployment.yaml, containers: [mlflow]}
postgresql: {template: postgresql/statefulset.yaml, containers: [postgresql]}
sftp: {template: sftp/deployment.yaml, containers: [sftp]}
migration: {template: mlflow/job-migration.yaml, containers: [db-upgrade, pg-dump]}
backup: {template: backup/cronjob-backup.yaml, containers: [backup]}
gc: {template: mlflow/cronjob-gc.yaml, containers: [gc]}
{{- end }}

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
{{- if and (has .Values.externalDatabase.sslMode (list "verify-ca" "verify-full")) (not .Values.externalDatabase.tlsCA.name) (not .Values.global.caBundle.configMap) }}
{{- $errors = append $errors (printf "externalDatabase.sslMode is %s but externalDatabase.tlsCA.name is empty: the clients need the CA that signed the server's certificate. Create a ConfigMap (or Secret, tlsCA.kind) holding it under the key %q and set externalDatabase.tlsCA.name (or set global.caBundle.configMap to a bundle that holds it)." .Values.externalDatabase.sslMode .Values.externalDatabase.tlsCA.key) }}
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
{{- range $path, $schedule := dict "backup.schedule" .Values.backup.schedule "backup.verifySchedule" .Values.backup.verifySchedule "gc.schedule" .Values.gc.schedule }}
{{- if not (regexMatch "^(@(hourly|daily|weekly|monthly|yearly)|([^ ]+ +){4}[^ ]+)$" $schedule) }}
{{- $errors = append $errors (printf "%s %q is not a cron schedule: use five fields (minute hour day-of-month month day-of-week), e.g. \"15 2 * * *\" for 02:15 daily, or @daily." $path $schedule) }}
{{- end }}
{{- end }}

{{- if and .Values.backup.enabled (ne (include "mlops-stack.backup.repositoryKind" .) "local") (not .Values.backup.restic.credentialsSecret) }}
{{- if eq (include "mlops-stack.backup.repositoryKind" .) "s3" }}
{{- $errors = append $errors (printf "backup.restic.repository is the S3 repository %q but backup.restic.credentialsSecret is empty: create a Secret with the key `credentials` holding an AWS shared-credentials file ([default] aws_access_key_id = ..., aws_secret_access_key = ...) and set its name." .Values.backup.restic.repository) }}
{{- else }}
{{- $errors = append $errors (printf "backup.restic.repository is the SFTP repository %q but backup.restic.credentialsSecret is empty: create a Secret with the keys `ssh-privatekey` (a key that server accepts) and `known_hosts` (its host key, e.g. from ssh-keyscan, checked against its fingerprint) and set its name." .Values.backup.restic.repository) }}
{{- end }}
{{- end }}
{{- if and (not .Values.backup.enabled) .Values.backup.restic.repository }}
{{- $errors = append $errors "backup.restic.repository is set while backup.enabled is false: nothing would be backed up there. Set backup.enabled=true or empty the repository." }}
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

{{/* Request threads: each may hold two connections of one engine (mlops_stack/mlflow_server says why). */}}
{{- $pool := add (int .Values.mlflow.databasePool.size) (int .Values.mlflow.databasePool.maxOverflow) | int }}
{{- if lt $pool (mul 2 (int .Values.mlflow.requestThreads) | int) }}
{{- $errors = append $errors (printf "mlflow.requestThreads (%d) needs pools of at least %d connections per engine, but mlflow.databasePool.size + maxOverflow = %d: a request may hold two connections at once, so under load every connection would wait for a second one until SQLAlchemy's 30 s timeout fails the requests. Lower mlflow.requestThreads or raise mlflow.databasePool.maxOverflow." (int .Values.mlflow.requestThreads) (mul 2 (int .Values.mlflow.requestThreads)) $pool) }}
{{- end }}

{{/* Database connections: every MLflow pool at its peak, during a rolling update too, fits in PostgreSQL. */}}
{{- if .Values.postgresql.enabled }}
{{- $peak := include "mlops-stack.mlflow.peakConnections" . | int }}
{{- $budget := sub (int .Values.postgresql.maxConnections) (int .Values.postgresql.reservedConnections) | int }}
{{- if gt $peak $budget }}
{{- $errors = append $errors (printf "MLflow may open %d PostgreSQL connections (%s), more than postgresql.maxConnections (%d) minus postgresql.reservedConnections (%d) = %d; at the limit clients get 'too many clients' errors. Lower mlflow.replicas, mlflow.workers, mlflow.databasePool.size or mlflow.databasePool.maxOverflow, or raise postgresql.maxConnections." $peak (include "mlops-stack.mlflow.peakConnectionsFormula" .) (int .Values.postgresql.maxConnections) (int .Values.postgresql.reservedConnections) $budget) }}
{{- end }}
{{- end }}

{{/* Resources: every container has requests and limits. */}}
{{- range $component := list "mlflow" "postgresql" "sftp" "migration" "backup" "gc" "prefect.server" "prefect.worker" }}
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

{{/* MLflow placement and disruption budget. */}}
{{- if and .Values.mlflow.podAntiAffinityPreset (gt (int .Values.mlflow.replicas) 1) (hasKey .Values.mlflow.affinity "podAntiAffinity") }}
{{- $errors = append $errors (printf "mlflow.podAntiAffinityPreset is %q and mlflow.affinity.podAntiAffinity is set too: set mlflow.podAntiAffinityPreset=\"\" to use your own podAntiAffinity, or remove it to use the preset." .Values.mlflow.podAntiAffinityPreset) }}
{{- end }}
{{- $minAvailable := .Values.mlflow.podDisruptionBudget.minAvailable }}
{{- if and (include "mlops-stack.mlflow.pdbEnabled" .) (not (kindIs "invalid" $minAvailable)) (not (kindIs "string" $minAvailable)) (ge (int $minAvailable) (int .Values.mlflow.replicas)) }}
{{- $errors = append $errors (printf "mlflow.podDisruptionBudget.minAvailable is %d with mlflow.replicas %d: no MLflow pod could ever be evicted, so node drains would block. Set it below mlflow.replicas, or use maxUnavailable." (int $minAvailable) (int .Values.mlflow.replicas)) }}
{{- end }}

{{/* Separated stores (_sftp-stores.tpl): the DVC store's sshd, where the extra mounts go, must not see the
     data volume (MLflow's artifacts are on it) nor anything mounted over /data (it would hide its store). */}}
{{- range $i, $mount := .Values.sftp.extraVolumeMounts }}
{{- if eq $mount.name "data" }}
{{- $errors = append $errors (printf "sftp.extraVolumeMounts[%d] mounts the volume \"data\", which holds MLflow's artifact store as well as the DVC store: every DVC key could then read and replace MLflow's artifacts. Remove it; the DVC store's sshd already mounts its own directory at /data/dvc." $i) }}
{{- else if or (eq (trimSuffix "/" $mount.mountPath) "/data") (hasPrefix "/data/" $mount.mountPath) }}
{{- $errors = append $errors (printf "sftp.extraVolumeMounts[%d] mounts at %s, under /data, where the stores are mounted: choose a mountPath outside /data." $i $mount.mountPath) }}
{{- end }}
{{- end }}

{{/* Extra env, volumes and mounts (README "Extra environment variables and volumes"). They are rendered
     after the chart's own, and a second entry of one env name silently replaces the first, so each
     component's workload is rendered here and every extra entry checked against what the chart already put
     in the same container or pod. extraEnvFrom needs no check: Kubernetes gives `env` precedence. */}}
{{- range $component, $target := include "mlops-stack.extrasTargets" . | fromYaml }}
{{- $values := index $.Values $component }}
{{- if or $values.extraEnv $values.extraVolumes $values.extraVolumeMounts }}
{{- $doc := include (printf "%s/%s" $.Template.BasePath $target.template) $ | fromYaml }}
{{- $pod := dig "spec" "template" "spec" dict $doc }}
{{- if eq (dig "kind" "" $doc) "CronJob" }}{{ $pod = dig "spec" "jobTemplate" "spec" "template" "spec" dict $doc }}{{ end }}
{{- $podVolumes := list }}
{{- range (dig "volumes" list $pod) }}{{ $podVolumes = append $podVolumes .name }}{{ end }}
{{- range $i, $volume := $values.extraVolumes }}
{{- $clash := 0 }}
{{- range $values.extraVolumes }}{{ if eq .name $volume.name }}{{ $clash = sub $clash 1 }}{{ end }}{{ end }}
{{- range $podVolumes }}{{ if eq . $volume.name }}{{ $clash = add1 $clash }}{{ end }}{{ end }}
{{- if gt $clash 0 }}
{{- $errors = append $errors (printf "%s.extraVolumes[%d] is named %q, a volume the chart already has in the %s pod: give it another name (and use that name in %s.extraVolumeMounts)." $component $i $volume.name $component $component) }}
{{- end }}
{{- end }}
{{- range $i, $mount := $values.extraVolumeMounts }}
{{- if not (has $mount.name $podVolumes) }}
{{- $errors = append $errors (printf "%s.extraVolumeMounts[%d] mounts the volume %q, which the %s pod does not have: add it to %s.extraVolumes." $component $i $mount.name $component $component) }}
{{- end }}
{{- end }}
{{- range $container := concat (dig "initContainers" list $pod) (dig "containers" list $pod) }}
{{- if has $container.name $target.containers }}
{{- range $i, $var := $values.extraEnv }}
{{- $clash := 0 }}
{{- range $values.extraEnv }}{{ if eq .name $var.name }}{{ $clash = sub $clash 1 }}{{ end }}{{ end }}
{{- range $container.env }}{{ if eq .name $var.name }}{{ $clash = add1 $clash }}{{ end }}{{ end }}
{{- if gt $clash 0 }}
{{- $errors = append $errors (printf "%s.extraEnv[%d] sets %s, which the chart already sets in the %s container: remove it from %s.extraEnv (a chart value controls it, see the README's values table) or use another name." $component $i $var.name $container.name $component) }}
{{- end }}
{{- end }}
{{- range $i, $mount := $values.extraVolumeMounts }}
{{- $clash := 0 }}
{{- range $values.extraVolumeMounts }}{{ if eq .mountPath $mount.mountPath }}{{ $clash = sub $clash 1 }}{{ end }}{{ end }}
{{- range $container.volumeMounts }}{{ if eq .mountPath $mount.mountPath }}{{ $clash = add1 $clash }}{{ end }}{{ end }}
{{- if gt $clash 0 }}
{{- $errors = append $errors (printf "%s.extraVolumeMounts[%d] mounts at %s, where the chart already mounts a volume in the %s container: choose another mountPath." $component $i $mount.mountPath $container.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- if $errors }}
{{- fail (printf "\n\nmlops-stack: invalid values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
