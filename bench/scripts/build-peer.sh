#!/usr/bin/env bash
# Builds the go-control-plane benchmark peer (bench/peer) once per source version into
# ~/.cache/meshgate/bench-peer/<hash of go.mod+go.sum+main.go>/peer and prints that path.
# The first build downloads go-control-plane and grpc-go through the Go module proxy and
# compiles them: a few minutes on 2 cores. Later runs reuse the binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../peer" && pwd)"
if ! command -v go >/dev/null 2>&1; then
  echo "build-peer: the go command is not on PATH; install Go 1.24+ to build the benchmark peer" >&2
  exit 2
fi
hash="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/meshgate/bench-peer/$hash"
if [[ -x "$dir/peer" ]]; then
  echo "$dir/peer"
  exit 0
fi
mkdir -p "$dir"
tmp="$dir/peer.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$here" && GOFLAGS=-mod=mod go build -trimpath -o "$tmp" .) >&2
mv "$tmp" "$dir/peer"
echo "$dir/peer"
