#!/usr/bin/env bash
# Builds the grpc-go proxyless xDS test client with the go command and caches it by source hash.
# Prints the binary's path on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")/grpc-go-client" && pwd)"
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
hash=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)
out="$CACHE/grpc-go-client/$hash/grpc-go-client"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "build-grpc-go-client: the go command is needed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
( cd "$here" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -o "$out.tmp" . ) >&2
mv "$out.tmp" "$out"
echo "$out"
