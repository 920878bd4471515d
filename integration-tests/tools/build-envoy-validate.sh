#!/usr/bin/env bash
# Builds envoy-validate (Envoy's own protoc-gen-validate rules, via go-control-plane's generated code) with the go
# command and caches it by a hash of its sources and go.sum. Prints the binary's path on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")/envoy-validate" && pwd)"
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
hash=$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -c1-16)
out="$CACHE/envoy-validate/$hash/envoy-validate"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "build-envoy-validate: the go command is needed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# Two suites may ask at once on a cold machine: one builds, the other waits for it instead of building twice.
exec 9>"$(dirname "$out")/.lock"
flock 9
if [ -x "$out" ]; then echo "$out"; exit 0; fi
( cd "$here" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -o "$out.tmp.$$" . ) >&2
mv "$out.tmp.$$" "$out"
echo "$out"
