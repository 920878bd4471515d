#!/usr/bin/env bash
# Builds istiod (pilot-discovery, Apache-2.0) from the Go module proxy and caches it with Istio's CRDs for the Istio
# suite. Prints two lines on stdout: the binary's path, then the CRD file's path; build output goes to stderr.
# About 4 min idle and ~620 MB of module cache cold (longer while other builds share the machine).
#
# NOT AN APPROVED ISTIO RELEASE: istio/istio tags have no "v" prefix, so Go only resolves pseudo-versions, and the
# module proxy here serves one: istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad, a commit of the 1.31
# development line (master, 2026-08-27). Results against it say nothing about released 1.2x/1.3x istiod builds.
#   MESHGATE_ISTIO_VERSION=v0.0.0-...   pick another pseudo-version of istio.io/istio
set -euo pipefail
VERSION="${MESHGATE_ISTIO_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}"
case "$VERSION" in v0.0.0-*-*) ;; *) echo "build-istiod: MESHGATE_ISTIO_VERSION must be a pseudo-version like v0.0.0-20260827124520-eed52ebb66ad, got '$VERSION'" >&2; exit 1 ;; esac
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
OUT="$CACHE/bin/pilot-discovery-$VERSION"
CRDS="$CACHE/bin/istio-crds-$VERSION.yaml"
SHA="${VERSION##*-}"

# Read the whole output before matching: with pipefail, `| head -1` could kill the binary with SIGPIPE and fail.
suitable() { local v; v=$("$1" version --short 2>/dev/null) && grep -q "$SHA" <<<"$v" && [ -s "$CRDS" ]; }

if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; echo "$CRDS"; exit 0; fi
command -v go >/dev/null || { echo "build-istiod: the go command is needed to build istiod $VERSION" >&2; exit 1; }
mkdir -p "$CACHE/bin"
# Test files run in parallel: one build at a time, the others wait for it and reuse its binary.
exec 9>"$OUT.lock"
flock 9
if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; echo "$CRDS"; exit 0; fi

WORK="$CACHE/build/istiod-$VERSION"
mkdir -p "$WORK"; cd "$WORK"
# Local toolchain only (never fetch another Go); niced because the build shares the machine with the tests.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
{
  START=$(date +%s)
  # A wrapper module rather than `go install`: it keeps the door open for replace/exclude lines a later istio
  # go.mod may carry (this revision has none). `go get`, not `go mod tidy`, to skip test-only dependencies.
  cat > go.mod <<MOD
module local/istiodbuild

go 1.26.0

require istio.io/istio $VERSION
MOD
  rm -f go.sum
  nice -n 19 go get "istio.io/istio/pilot/cmd/pilot-discovery@$VERSION" || { echo "build-istiod: the Go module proxy did not serve istio.io/istio@$VERSION" >&2; exit 1; }
  nice -n 19 go build -trimpath -o "$OUT.tmp" -ldflags "-s -w \
    -X istio.io/istio/pkg/version.buildVersion=1.31-dev-$SHA \
    -X istio.io/istio/pkg/version.buildGitRevision=$SHA \
    -X istio.io/istio/pkg/version.buildStatus=Clean" \
    istio.io/istio/pilot/cmd/pilot-discovery
  DIR=$(go list -m -f '{{.Dir}}' istio.io/istio)
  install -m 0644 "$DIR/manifests/charts/base/files/crd-all.gen.yaml" "$CRDS.tmp"
  mv "$CRDS.tmp" "$CRDS"
  mv "$OUT.tmp" "$OUT"
  echo "build-istiod: built istiod $VERSION (1.31 development line, not an approved release) in $(( $(date +%s) - START )) s"
} >&2
suitable "$OUT" || { echo "build-istiod: built binary does not report revision $SHA: $("$OUT" version --short 2>&1 | head -1)" >&2; exit 1; }
echo "$OUT"
echo "$CRDS"
