#!/usr/bin/env bash
# Builds a Kubernetes command (Apache-2.0) of k8s.io/kubernetes from the Go module proxy and caches the binary
# for the Kubernetes suite: `build-kube.sh kube-apiserver` or `build-kube.sh kubectl` (see build-kube-apiserver.sh
# and build-kubectl.sh). Prints the binary's path on stdout; build output goes to stderr. kube-apiserver cold:
# ~8 min on 2 shared cores, ~1 GB of module cache, ~3 GB of Go build cache, 2.5 GB peak RAM. Keep the binary:
# a rebuild with a warm cache is ~5 min. kubectl after kube-apiserver shares most of the module and build cache.
#   MESHGATE_KUBE_VERSION=v1.N.x  pick another release (default v1.37.2)
set -euo pipefail
CMD="${1:?usage: build-kube.sh kube-apiserver|kubectl}"
case "$CMD" in kube-apiserver|kubectl) ;; *) echo "build-kube: unknown command '$CMD' (kube-apiserver or kubectl)" >&2; exit 1 ;; esac
VERSION="${MESHGATE_KUBE_VERSION:-v1.37.2}"
case "$VERSION" in v1.*.*) ;; *) echo "build-kube: MESHGATE_KUBE_VERSION must look like v1.37.2, got '$VERSION'" >&2; exit 1 ;; esac
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
OUT="$CACHE/bin/$CMD-$VERSION"

# Read the whole output before matching: with pipefail, an early-exiting grep could SIGPIPE the binary.
suitable() {
  local v
  if [ "$CMD" = kubectl ]; then v=$("$1" version --client 2>/dev/null) && grep -q "^Client Version: $VERSION\$" <<<"$v"
  else v=$("$1" --version 2>/dev/null) && grep -q "^Kubernetes $VERSION\$" <<<"$v"; fi
}

if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "build-kube: the go command is needed to build $CMD $VERSION" >&2; exit 1; }
mkdir -p "$CACHE/bin"
# Test files run in parallel: one build at a time (both commands share the wrapper module below), the others
# wait for it and reuse its binary.
exec 9>"$CACHE/bin/.kube-$VERSION.lock"
flock 9
if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; exit 0; fi

MINOR=$(echo "$VERSION" | cut -d. -f2)
STAGING="v0.${VERSION#v1.}" # k8s.io/api etc. are published as v0.<minor>.<patch> for release 1.<minor>.<patch>
WORK="$CACHE/build/kube-$VERSION"
mkdir -p "$WORK"; cd "$WORK"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
{
  START=$(date +%s)
  INFO=$(go mod download -json "k8s.io/kubernetes@$VERSION") || { echo "build-kube: the Go module proxy did not serve k8s.io/kubernetes@$VERSION" >&2; exit 1; }
  GOMOD=$(printf '%s' "$INFO" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | head -1)
  [ -f "$GOMOD" ] || { echo "build-kube: no go.mod for k8s.io/kubernetes@$VERSION in the module cache" >&2; exit 1; }
  rm -f go.mod go.sum
  go mod init local/kubebuild 2>/dev/null
  go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GOMOD")"
  GODEBUG_LINE=$(sed -n 's/^godebug \(.*\)$/\1/p' "$GOMOD")
  if [ -n "$GODEBUG_LINE" ]; then go mod edit -godebug="$GODEBUG_LINE"; fi
  # k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and replaces
  # them with ./staging/... paths, which a dependent module cannot use; replace each with the module published
  # for the same release. The list comes from the tag's own go.mod so it follows new releases.
  N=0
  for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$GOMOD"); do
    go mod edit -replace="$m=$m@$STAGING"; N=$((N + 1))
  done
  [ "$N" -gt 0 ] || { echo "build-kube: found no staging replace lines in $GOMOD" >&2; exit 1; }
  go mod edit -require="k8s.io/kubernetes@$VERSION"
  nice -n 19 go get "k8s.io/kubernetes/cmd/$CMD@$VERSION"
  # The version variables the upstream build sets (both packages, as it does); clients read them (discovery,
  # kubectl's version skew check).
  LDFLAGS="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDFLAGS="$LDFLAGS -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR -X $pkg.gitTreeState=clean"
  done
  nice -n 19 go build -trimpath -o "$OUT.tmp" -ldflags "$LDFLAGS" "k8s.io/kubernetes/cmd/$CMD"
  mv "$OUT.tmp" "$OUT"
  echo "build-kube: built $CMD $VERSION in $(( $(date +%s) - START )) s"
} >&2
suitable "$OUT" || { echo "build-kube: built $OUT does not report $VERSION" >&2; exit 1; }
echo "$OUT"
