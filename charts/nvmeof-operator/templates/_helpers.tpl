{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "nvmeof-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nvmeof-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nvmeof-operator.labels" -}}
{{ include "nvmeof-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "nvmeof-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nvmeof-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference from {repository, tag, digest}: the digest wins, the tag defaults to appVersion. */}}
{{- define "nvmeof-operator.image" -}}
{{- $img := index . 0 -}}
{{- $root := index . 1 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "nvmeof-operator.leaderRoleName" -}}
{{- printf "%s-leader" (include "nvmeof-operator.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{/* Values no schema can check alone. */}}
{{- define "nvmeof-operator.validate" -}}
{{- include "nvmeof-operator.validatePaths" . -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: replicas would reconcile the same subsystems at once; set replicaCount: 1 or enable leader election" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled: the ServiceMonitor selects the metrics Service" -}}
{{- end -}}
{{- range $k := list "serviceMonitor" "targetPodMonitor" -}}
{{- if and (index $.Values.metrics $k).enabled (not ($.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}
{{- fail (printf "metrics.%s.enabled needs the monitoring.coreos.com/v1 API (the prometheus-operator CRDs), which this cluster does not serve; install them first (with `helm template`, pass --api-versions monitoring.coreos.com/v1)" $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Paths: the schema checks their shape; here what it cannot say simply (the operator refuses the same). */}}
{{- define "nvmeof-operator.validatePaths" -}}
{{- range $seg := splitList "/" .Values.hostPathRoot -}}
{{- if or (eq $seg ".") (eq $seg "..") -}}
{{- fail (printf "hostPathRoot %q must be a normalized path: no . or .. segments" $.Values.hostPathRoot) -}}
{{- end -}}
{{- end -}}
{{- range $d := .Values.allowedDevices -}}
{{- $p := trimSuffix "*" $d -}}
{{- if or (contains ".." $d) (contains "//" $d) (contains "/./" $d) (and (ne $p $d) (hasSuffix "/." $p)) (and (eq $p $d) (or (hasSuffix "/" $d) (hasSuffix "/." $d))) -}}
{{- fail (printf "allowedDevices entry %q must be a normalized path under /dev/ (no .., //, . segments or trailing /), optionally ending in *" $d) -}}
{{- end -}}
{{- end -}}
{{- end -}}
