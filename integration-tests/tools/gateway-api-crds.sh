#!/usr/bin/env bash
# Prints the directory that holds the Gateway API CRDs (Apache-2.0) of the sigs.k8s.io/gateway-api module,
# fetched into the Go module cache (a few MB). Apply with `kubectl apply --server-side -f DIR`: httproutes is
# too big for client-side apply's last-applied annotation.
#   MESHGATE_GATEWAY_API_VERSION=v1.6.x   another release (default v1.6.3)
#   MESHGATE_GATEWAY_API_CHANNEL=standard|experimental   (default standard)
set -euo pipefail
VERSION="${MESHGATE_GATEWAY_API_VERSION:-v1.6.3}"
CHANNEL="${MESHGATE_GATEWAY_API_CHANNEL:-standard}"
case "$CHANNEL" in standard|experimental) ;; *) echo "gateway-api-crds: MESHGATE_GATEWAY_API_CHANNEL must be standard or experimental, got '$CHANNEL'" >&2; exit 1 ;; esac
command -v go >/dev/null || { echo "gateway-api-crds: the go command is needed to fetch sigs.k8s.io/gateway-api@$VERSION" >&2; exit 1; }
# Outside any module, so a go.mod in the caller's directory plays no part.
cd "${TMPDIR:-/tmp}"
INFO=$(GOTOOLCHAIN=local GOFLAGS= go mod download -json "sigs.k8s.io/gateway-api@$VERSION") || { echo "gateway-api-crds: the Go module proxy did not serve sigs.k8s.io/gateway-api@$VERSION" >&2; exit 1; }
DIR=$(printf '%s' "$INFO" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p' | head -1)/config/crd/$CHANNEL
[ -d "$DIR" ] || { echo "gateway-api-crds: $DIR is missing from the module" >&2; exit 1; }
echo "$DIR"
