#!/usr/bin/env bash
# Builds the etcd server (Apache-2.0) from the Go module proxy and caches the binary for the Kubernetes suite.
# Prints the binary's path on stdout; build output goes to stderr. About 1 min and ~300 MB of module cache cold.
#   MESHGATE_ETCD_VERSION=v3.6.x  pick another release (default v3.6.16)
set -euo pipefail
VERSION="${MESHGATE_ETCD_VERSION:-v3.6.16}"
case "$VERSION" in v3.*) ;; *) echo "build-etcd: MESHGATE_ETCD_VERSION must look like v3.6.16, got '$VERSION'" >&2; exit 1 ;; esac
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
OUT="$CACHE/bin/etcd-$VERSION"

# Read the whole output before matching: with pipefail, `| head -1` could kill etcd with SIGPIPE and fail.
suitable() { local v; v=$("$1" --version 2>/dev/null) && grep -q "^etcd Version: ${VERSION#v}\$" <<<"$v"; }

if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "build-etcd: the go command is needed to build etcd $VERSION" >&2; exit 1; }
mkdir -p "$CACHE/bin"
# Test files run in parallel: one build at a time, the others wait for it and reuse its binary.
exec 9>"$OUT.lock"
flock 9
if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; exit 0; fi

WORK="$CACHE/build/etcd-$VERSION"
mkdir -p "$WORK"; cd "$WORK"
# Local toolchain only (never fetch another Go); niced because the build shares the machine with the tests.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
{
  START=$(date +%s)
  # server/v3's own go.mod replaces its sibling modules with ../ paths, so `go install server/v3@version` is
  # refused; a wrapper module that requires all of them at the same version builds the same code. `go get`,
  # not `go mod tidy`: tidy would also fetch every test-only dependency (~300 MB more).
  cat > go.mod <<MOD
module local/etcdbuild

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 $VERSION
	go.etcd.io/etcd/api/v3 $VERSION
	go.etcd.io/etcd/client/pkg/v3 $VERSION
	go.etcd.io/etcd/client/v3 $VERSION
	go.etcd.io/etcd/pkg/v3 $VERSION
)
MOD
  rm -f go.sum
  nice -n 19 go get "go.etcd.io/etcd/server/v3@$VERSION" || { echo "build-etcd: the Go module proxy did not serve go.etcd.io/etcd/server/v3@$VERSION" >&2; exit 1; }
  nice -n 19 go build -trimpath -ldflags "-s -w" -o "$OUT.tmp" go.etcd.io/etcd/server/v3
  mv "$OUT.tmp" "$OUT"
  echo "build-etcd: built etcd $VERSION in $(( $(date +%s) - START )) s"
} >&2
suitable "$OUT" || { echo "build-etcd: built binary does not report $VERSION: $("$OUT" --version 2>&1 | head -1)" >&2; exit 1; }
echo "$OUT"
