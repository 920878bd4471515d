#!/usr/bin/env bash
# Builds Linkerd's Go controller (controller/cmd: subcommands identity, destination, ...) from a carried linkerd2
# source tree and renders the CRDs of charts/linkerd-crds to plain YAML, both cached. Only a test server: none of its
# code goes into meshgate. The Go module proxy refuses github.com/linkerd/linkerd2 itself, so its source is carried
# (a directory or a .tar.gz holding go.mod, go.sum, controller/, pkg/, charts/, ...); its dependencies come from the
# proxy. About 2.5 min and ~550 MB of module cache cold; an 82 MB binary.
#   MESHGATE_LINKERD2_SRC=PATH  the source (default: the carried copy CI keeps beside the repository root, or beside
#                               the main checkout from a git worktree, else at /work/shared; a directory without go.mod means the newest
#                               linkerd2-src-*.tar.gz in it)
# Prints "<binary> <crd-dir>" on stdout; build output goes to stderr. Exit code 3 when no source is found.
#   build-linkerd2.sh --source   only prints the source it would build from (exit code 3 when there is none)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -n "${MESHGATE_LINKERD2_SRC:-}" ]; then
  SRC="$MESHGATE_LINKERD2_SRC"
else
  SRC="$ROOT/../shared/vendor/linkerd2"
  # In a git worktree the carried copy sits next to the main checkout instead.
  if [ ! -e "$SRC" ] && COMMON=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
    SRC="$(dirname "$COMMON")/../shared/vendor/linkerd2"
  fi
  # A clone made elsewhere (e.g. a CI checkout in /tmp) on a machine that carries the copy at its usual place.
  [ -e "$SRC" ] || SRC="/work/shared/vendor/linkerd2"
fi
if [ -d "$SRC" ] && [ ! -f "$SRC/go.mod" ]; then
  TAR=$(find "$SRC" -maxdepth 1 -name 'linkerd2-src-*.tar.gz' | sort | tail -1)
  [ -n "$TAR" ] || { echo "build-linkerd2: $SRC holds neither go.mod nor a linkerd2-src-*.tar.gz; set MESHGATE_LINKERD2_SRC to a linkerd2 source tree or tarball" >&2; exit 3; }
  SRC="$TAR"
fi
[ -e "$SRC" ] || { echo "build-linkerd2: no linkerd2 source at $SRC; set MESHGATE_LINKERD2_SRC to a linkerd2 source tree or tarball" >&2; exit 3; }
if [ "${1:-}" = "--source" ]; then echo "$SRC"; exit 0; fi

# The label follows the source's content, so a different tree never reuses another one's binary.
if [ -d "$SRC" ]; then
  LABEL="dir-$(cd "$SRC" && find go.mod go.sum controller pkg -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
else
  LABEL="$(basename "$SRC" .tar.gz | sed 's/^linkerd2-src-//')-$(sha256sum "$SRC" | cut -c1-12)"
fi
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
OUT="$CACHE/bin/linkerd2-controller-$LABEL"
CRDS="$CACHE/linkerd2-crds-$LABEL"

ready() { [ -x "$OUT" ] && [ -d "$CRDS" ]; }
if ready; then echo "$OUT $CRDS"; exit 0; fi
command -v go >/dev/null || { echo "build-linkerd2: the go command is needed to build the linkerd2 controller" >&2; exit 1; }
mkdir -p "$CACHE/bin"
# Test files run in parallel: one build at a time, the others wait for it and reuse its binary.
exec 9>"$OUT.lock"
flock 9
if ready; then echo "$OUT $CRDS"; exit 0; fi

WORK="$CACHE/build/linkerd2-$LABEL"
{
  START=$(date +%s)
  rm -rf "$WORK"; mkdir -p "$WORK"
  if [ -d "$SRC" ]; then cp -a "$SRC"/. "$WORK"/; else tar xzf "$SRC" -C "$WORK" --strip-components=1; fi
  [ -f "$WORK/go.mod" ] || { echo "build-linkerd2: $SRC unpacks without a go.mod at its top" >&2; exit 1; }
  cd "$WORK"
  # Local toolchain only (never fetch another Go); niced because the build shares the machine with the tests.
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
  if [ ! -x "$OUT" ]; then
    nice -n 19 go build -trimpath -ldflags "-s -w -X github.com/linkerd/linkerd2/pkg/version.Version=$LABEL" -o "$OUT.tmp" ./controller/cmd
    mv "$OUT.tmp" "$OUT"
  fi
  # The destination controller watches ServiceProfiles, Servers and ExternalWorkloads, so it needs these CRDs.
  # The chart's templates hold only three template actions; they are replaced by fixed values here so the files
  # apply without Helm. The chart's Gateway API CRDs are left out (the Kubernetes suites install their own).
  rm -rf "$CRDS.tmp"; mkdir -p "$CRDS.tmp"
  T=charts/linkerd-crds/templates
  [ -d "$T" ] || { echo "build-linkerd2: $SRC has no $T; the destination controller needs Linkerd's CRDs" >&2; exit 1; }
  for f in "$T"/serviceprofile.yaml "$T"/policy/*.yaml "$T"/workload/*.yaml; do
    [ -f "$f" ] || continue
    sed -e 's#{{ include "partials.annotations.created-by" . }}#linkerd.io/created-by: meshgate-test#' \
        -e '/helm.sh\/chart:/d' -e 's#{{ *.Release.Namespace *}}#linkerd#' "$f" >"$CRDS.tmp/$(basename "$f")"
  done
  if grep -l '{{' "$CRDS.tmp"/*; then echo "build-linkerd2: a template action is left in the CRDs above" >&2; exit 1; fi
  rm -rf "$CRDS"; mv "$CRDS.tmp" "$CRDS"
  rm -rf "$WORK"
  echo "build-linkerd2: built the linkerd2 controller $LABEL in $(($(date +%s) - START)) s"
} >&2
echo "$OUT $CRDS"
