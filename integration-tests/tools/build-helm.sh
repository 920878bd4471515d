#!/usr/bin/env bash
# Builds Helm v3 (Apache-2.0) from the Go module proxy, the way `go install` would, and caches the binary.
# A helm already on PATH is used when it is major version 3 (the chart targets Helm v3; v4 changed the CLI).
# Prints the binary's path on stdout; build output goes to stderr.
#   MESHGATE_HELM_VERSION=v3.x.y  pick another v3 release (default v3.21.4, the newest approved release)
set -euo pipefail
VERSION="${MESHGATE_HELM_VERSION:-v3.21.4}"
case "$VERSION" in v3.*) ;; *) echo "build-helm: MESHGATE_HELM_VERSION must be a v3 release such as v3.21.4, got '$VERSION'" >&2; exit 1 ;; esac
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
DIR="$CACHE/helm-$VERSION"
OUT="$DIR/helm"

major3() { "$1" version --short 2>/dev/null | grep -q '^v3\.'; }

if command -v helm >/dev/null 2>&1 && major3 "$(command -v helm)"; then command -v helm; exit 0; fi
if [ -x "$OUT" ] && "$OUT" version --short 2>/dev/null | grep -q "^$VERSION"; then echo "$OUT"; exit 0; fi

command -v go >/dev/null || { echo "build-helm: the go command is needed to build Helm $VERSION (or put a Helm v3 'helm' on PATH)" >&2; exit 1; }
mkdir -p "$DIR"
# Suites running in parallel may all ask for Helm: one builds, the others wait and reuse its binary.
exec 9>"$DIR.lock"
flock 9
if [ -x "$OUT" ] && "$OUT" version --short 2>/dev/null | grep -q "^$VERSION"; then echo "$OUT"; exit 0; fi
# `go install pkg@version` builds with the tag's own go.mod (helm has no replace/exclude directives), so the
# result matches upstream's dependency set. Local toolchain only: never fetch another Go.
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
{
  INFO=$(go mod download -json "helm.sh/helm/v3@$VERSION") || { echo "build-helm: the Go module proxy did not serve helm.sh/helm/v3@$VERSION" >&2; exit 1; }
  MODDIR=$(printf '%s' "$INFO" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p' | head -1)
  # Upstream's Makefile derives the default Kubernetes version from client-go (v0.N.x -> 1.N); without it
  # `helm template` and `helm lint` would assume Kubernetes v1.20.
  CG=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$MODDIR/go.mod" | head -1)
  [ -n "$CG" ] || { echo "build-helm: could not read the k8s.io/client-go version from $MODDIR/go.mod" >&2; exit 1; }
  LDFLAGS="-w -s -X helm.sh/helm/v3/internal/version.version=$VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    LDFLAGS="$LDFLAGS -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$CG"
  done
  START=$(date +%s)
  TMPBIN=$(mktemp -d "$DIR/bin.XXXXXX")
  GOBIN="$TMPBIN" go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$VERSION"
  mv "$TMPBIN/helm" "$OUT"; rmdir "$TMPBIN"
  echo "build-helm: built Helm $VERSION in $(( $(date +%s) - START )) s"
} >&2
"$OUT" version --short | grep -q "^$VERSION" || { echo "build-helm: built binary does not report $VERSION: $("$OUT" version --short)" >&2; exit 1; }
echo "$OUT"
