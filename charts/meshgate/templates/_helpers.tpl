{{/* Chart name, truncated to the 63 characters Kubernetes allows in a label value. */}}
{{- define "meshgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "meshgate.fullname" -}}
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

{{- define "meshgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object of the release. */}}
{{- define "meshgate.labels" -}}
helm.sh/chart: {{ include "meshgate.chart" . }}
app.kubernetes.io/name: {{ include "meshgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meshgate
{{- end }}

{{/* Selector labels of the control plane; immutable once installed, so they never carry versions. */}}
{{- define "meshgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: control-plane
{{- end }}

{{/* Selector labels of the optional Envoy gateway. */}}
{{- define "meshgate.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "meshgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "meshgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "meshgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "meshgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the config, the Consul token and the writable state live inside the pod. */}}
{{- define "meshgate.configDir" -}}/etc/meshgate{{- end }}
{{- define "meshgate.consulTokenDir" -}}/var/run/secrets/meshgate/consul{{- end }}

{{/* True when the Consul agent address is only known at run time (the node's IP), so an init container renders the config. */}}
{{- define "meshgate.renderAtStart" -}}
{{- if .Values.consul.agentOnHost.enabled }}true{{- end }}
{{- end }}

{{/*
The meshgate config file: values.config plus what the chart wires itself (the Consul token file
and the node-local agent address). Conflicts fail the render with the fix, so a config that
passes here is the one the pod gets.
*/}}
{{- define "meshgate.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $admin := get $cfg "admin" | default dict }}
{{- $addr := toString (get $admin "address" | default "127.0.0.1") }}
{{- if has $addr (list "127.0.0.1" "localhost" "::1") }}
{{- fail (printf "config.admin.address is %s: kubelet probes (/healthz, /readyz) connect from the node to the pod IP, so the admin server must listen on 0.0.0.0 (or the pod IP); see the comment on config.admin in values.yaml" $addr) }}
{{- end }}
{{- $tokenSecret := .Values.consul.tokenSecret }}
{{- if or $tokenSecret.name .Values.consul.agentOnHost.enabled }}
{{- if not (hasKey $cfg "consul") }}
{{- fail "consul.tokenSecret.name and consul.agentOnHost.enabled wire the Consul source, but config.consul is not set; add config.consul (at least {}) to turn the Consul source on" }}
{{- end }}
{{- $consul := get $cfg "consul" | default dict }}
{{- if $tokenSecret.name }}
{{- if or (hasKey $consul "tokenFile") (hasKey $consul "tokenEnv") }}
{{- fail "config.consul.tokenFile/tokenEnv and consul.tokenSecret are both set; keep consul.tokenSecret (the chart points tokenFile at the mounted Secret) and remove the other" }}
{{- end }}
{{- $_ := set $consul "tokenFile" (printf "%s/%s" (include "meshgate.consulTokenDir" .) $tokenSecret.key) }}
{{- end }}
{{- if .Values.consul.agentOnHost.enabled }}
{{- if hasKey $consul "address" }}
{{- fail "config.consul.address and consul.agentOnHost.enabled are both set; remove config.consul.address (the chart sets it to the node's IP) or turn agentOnHost off" }}
{{- end }}
{{- $_ := set $consul "address" (printf "%s://${HOST_IP}:%d" .Values.consul.agentOnHost.scheme (int .Values.consul.agentOnHost.port)) }}
{{- end }}
{{- $_ := set $cfg "consul" $consul }}
{{- end }}
{{- if and (hasKey $cfg "istio") (not .Values.istio.identity.enabled) (not (hasKey (get $cfg "istio" | default dict) "serviceAccount")) }}
{{- fail "config.istio needs serviceAccount, or istio.identity.enabled to have the chart set it (with the token and root mounted)" }}
{{- end }}
{{- if .Values.istio.identity.enabled }}
{{- if not (hasKey $cfg "istio") }}
{{- fail "istio.identity.enabled mounts the token and root for config.istio, but config.istio is not set; add config.istio (at least {})" }}
{{- end }}
{{- $istio := get $cfg "istio" | default dict }}
{{- range $key := list "serviceAccount" "namespace" "tokenFile" "rootCertFile" }}
{{- if hasKey $istio $key }}
{{- fail (printf "config.istio.%s is set, but istio.identity.enabled derives it (the release's ServiceAccount and namespace, the mounted token and root); remove config.istio.%s" $key $key) }}
{{- end }}
{{- end }}
{{- $_ := set $istio "serviceAccount" (include "meshgate.serviceAccountName" .) }}
{{- $_ := set $istio "namespace" .Release.Namespace }}
{{- $_ := set $istio "tokenFile" "/var/run/secrets/tokens/istio-token" }}
{{- $_ := set $istio "rootCertFile" "/var/run/secrets/istio/root-cert.pem" }}
{{- $_ := set $cfg "istio" $istio }}
{{- end }}
{{- if and (hasKey $cfg "linkerd") (not .Values.linkerd.identity.enabled) (not (hasKey (get $cfg "linkerd" | default dict) "serviceAccount")) }}
{{- fail "config.linkerd needs serviceAccount and namespace, or linkerd.identity.enabled to have the chart set them (with the token mounted)" }}
{{- end }}
{{- if .Values.linkerd.identity.enabled }}
{{- if not (hasKey $cfg "linkerd") }}
{{- fail "linkerd.identity.enabled mounts the token for config.linkerd, but config.linkerd is not set; add config.linkerd (at least {})" }}
{{- end }}
{{- $l5d := get $cfg "linkerd" | default dict }}
{{- range $key := list "serviceAccount" "namespace" "tokenFile" "trustAnchorsFile" "kubeconfig" }}
{{- if hasKey $l5d $key }}
{{- fail (printf "config.linkerd.%s is set, but linkerd.identity.enabled derives it (the release's ServiceAccount and namespace, the mounted token, linkerd.identity.trustAnchorsPEM or the API); remove config.linkerd.%s" $key $key) }}
{{- end }}
{{- end }}
{{- $_ := set $l5d "serviceAccount" (include "meshgate.serviceAccountName" .) }}
{{- $_ := set $l5d "namespace" .Release.Namespace }}
{{- $_ := set $l5d "tokenFile" "/var/run/secrets/linkerd/tokens/linkerd-identity-token" }}
{{- if .Values.linkerd.identity.trustAnchorsPEM }}
{{- $_ := set $l5d "trustAnchorsFile" "/var/run/secrets/linkerd/roots/ca-bundle.crt" }}
{{- end }}
{{- $_ := set $cfg "linkerd" $l5d }}
{{- end }}
{{- if .Values.kubernetes.enabled }}
{{- $k := get $cfg "kubernetes" | default dict }}
{{- range $key, $from := dict "namespaces" "kubernetes.namespaces" "controllerName" "kubernetes.gatewayClass.controllerName" "secretNamespaces" "kubernetes.secrets" "pods" "kubernetes.pods" }}
{{- if hasKey $k $key }}
{{- fail (printf "config.kubernetes.%s is set, but the chart derives it from %s so that it matches the RBAC it grants; remove config.kubernetes.%s" $key $from $key) }}
{{- end }}
{{- end }}
{{- $le := get $k "leaderElection" | default dict }}
{{- range $key := list "namespace" "leaseName" }}
{{- if hasKey $le $key }}
{{- fail (printf "config.kubernetes.leaderElection.%s is set, but the chart derives it from the release (the Lease its Role grants); remove it" $key) }}
{{- end }}
{{- end }}
{{- with .Values.kubernetes.namespaces }}
{{- $_ := set $k "namespaces" . }}
{{- end }}
{{- $_ := set $k "pods" .Values.kubernetes.pods }}
{{- $_ := set $k "controllerName" .Values.kubernetes.gatewayClass.controllerName }}
{{- $secretNamespaces := include "meshgate.secretNamespaces" . | fromJsonArray }}
{{- if not (has "*" $secretNamespaces) }}
{{- $_ := set $k "secretNamespaces" $secretNamespaces }}
{{- end }}
{{- $_ := set $le "namespace" .Release.Namespace }}
{{- $_ := set $le "leaseName" (include "meshgate.leaseName" .) }}
{{- $_ := set $k "leaderElection" $le }}
{{- $_ := set $cfg "kubernetes" $k }}
{{- else if hasKey $cfg "kubernetes" }}
{{- fail "config.kubernetes is set but kubernetes.enabled is false, so the pod would get no API token and no RBAC; set kubernetes.enabled=true (see examples/values-kubernetes.yaml)" }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{- define "meshgate.xdsPort" -}}
{{- (get (.Values.config.xds | default dict) "port") | default 18000 | int }}
{{- end }}
{{- define "meshgate.adminPort" -}}
{{- (get (.Values.config.admin | default dict) "port") | default 19000 | int }}
{{- end }}

{{/* Namespaces whose Secrets meshgate may read, as a JSON array: [] none, ["*"] all. */}}
{{- define "meshgate.secretNamespaces" -}}
{{- if not .Values.kubernetes.secrets.enabled }}[]
{{- else if .Values.kubernetes.secrets.namespaces }}{{ .Values.kubernetes.secrets.namespaces | toJson }}
{{- else }}{{ list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{/* The Lease the replicas elect a status writer with. */}}
{{- define "meshgate.leaseName" -}}
{{- printf "%s-leader" (include "meshgate.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
What the Kubernetes source will do, read back from the rendered config so that the RBAC follows it:
gatewayApi (Gateway API objects and their TLS Secrets), writeStatus, leaderElection (a Lease), and whether a mesh
hook reads Pods (istio.upstreams, linkerd.kubernetesServices), as JSON.
*/}}
{{- define "meshgate.kubernetesFeatures" -}}
{{- $cfg := include "meshgate.config" . | fromYaml }}
{{- $k := $cfg.kubernetes | default dict }}
{{- $gw := ne (toString (get $k "gatewayApi")) "false" }}
{{- $istioUp := and (hasKey $cfg "istio") (ne (toString (get ($cfg.istio | default dict) "upstreams")) "false") }}
{{- $status := and $gw (ne (toString (get $k "writeStatus")) "false") }}
{{- $le := get $k "leaderElection" | default dict }}
{{- $lease := and $status (ne (toString (get $le "enabled")) "false") }}
{{- $l5d := eq (toString (get $k "linkerdIngress")) "true" }}
{{- $l5dSvc := eq (toString (get ($cfg.linkerd | default dict) "kubernetesServices")) "true" }}
{{- dict "gatewayApi" $gw "writeStatus" $status "lease" $lease "istioUpstreams" $istioUp "linkerdIngress" $l5d "linkerdServices" $l5dSvc | toJson }}
{{- end }}

{{/* Linkerd direct mode reads the trust-roots ConfigMap through the API (no trustAnchorsPEM given). */}}
{{- define "meshgate.linkerdRootsFromApi" -}}
{{- if and .Values.linkerd.identity.enabled (not .Values.linkerd.identity.trustAnchorsPEM) }}true{{- end }}
{{- end }}

{{/* Linkerd's control-plane namespace as config.linkerd names it. */}}
{{- define "meshgate.linkerdNamespace" -}}
{{- get (get (.Values.config | default dict) "linkerd" | default dict) "linkerdNamespace" | default "linkerd" }}
{{- end }}
