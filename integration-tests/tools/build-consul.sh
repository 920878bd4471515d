#!/usr/bin/env bash
# Builds Consul v1.16.4 (the last MPL-2.0 release) from the Go module proxy and caches the binary.
# Later releases are BUSL-licensed and must not be used. Prints the binary's path on stdout.
set -euo pipefail
VERSION=1.16.4
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
OUT="$CACHE/consul-$VERSION/consul"

suitable() { "$1" version 2>/dev/null | head -1 | grep -q "^Consul v$VERSION\$"; }

# A consul already on PATH is used only when it is exactly the MPL release we pin.
if command -v consul >/dev/null 2>&1 && suitable "$(command -v consul)"; then command -v consul; exit 0; fi
if [ -x "$OUT" ] && suitable "$OUT"; then echo "$OUT"; exit 0; fi

command -v go >/dev/null || { echo "build-consul: the go command is needed to build Consul v$VERSION" >&2; exit 1; }
WORK="$CACHE/consul-$VERSION/build"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
{
  go mod init local/consulbuild >/dev/null 2>&1
  # The tag's commit pins every consul submodule to the same source as the root module.
  INFO=$(go mod download -json "github.com/hashicorp/consul@v$VERSION" 2>&1 || true)
  # The proxy refuses this version here ("403 Forbidden: This module version is not available"); nothing
  # later can succeed, so stop at once with a distinct exit code the test suites recognise.
  if printf '%s' "$INFO" | grep -q '403 Forbidden'; then
    echo "build-consul: the Go module proxy answered 403 Forbidden (\"This module version is not available\") for github.com/hashicorp/consul@v$VERSION; a real Consul cannot be built here. Put a consul v$VERSION binary on PATH to use one; the integration tests fall back to the Consul contract server (integration-tests/lib/consul-contract-server.ts)." >&2
    exit 3
  fi
  COMMIT=$(printf '%s' "$INFO" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
  [ -n "$COMMIT" ] || { echo "build-consul: could not learn the commit of v$VERSION from the module proxy" >&2; exit 1; }
  cat > go.mod <<MOD
module local/consulbuild

go 1.26

exclude (
	github.com/hashicorp/go-msgpack v1.1.5
	github.com/hashicorp/go-msgpack v1.1.6
)
MOD
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/hashicorp/consul"
GO
  go get "github.com/hashicorp/consul@v$VERSION" \
    "github.com/hashicorp/consul/api@$COMMIT" "github.com/hashicorp/consul/sdk@$COMMIT" \
    "github.com/hashicorp/consul/proto-public@$COMMIT" "github.com/hashicorp/consul/envoyextensions@$COMMIT" \
    "github.com/hashicorp/consul/troubleshoot@$COMMIT"
  # Licence gate: every consul module we build from must be MPL-2.0.
  for m in "github.com/hashicorp/consul@v$VERSION"; do
    dir=$(go list -m -f '{{.Dir}}' "${m%@*}")
    grep -q "Mozilla Public License" "$dir/LICENSE" || { echo "build-consul: $m is not MPL-2.0; refusing to build" >&2; exit 1; }
    if grep -qi "Business Source License" "$dir/LICENSE"; then echo "build-consul: $m is BUSL; refusing" >&2; exit 1; fi
  done
  for sub in api sdk proto-public envoyextensions troubleshoot; do
    dir=$(go list -m -f '{{.Dir}}' "github.com/hashicorp/consul/$sub")
    if [ -f "$dir/LICENSE" ] && grep -qi "Business Source License" "$dir/LICENSE"; then echo "build-consul: consul/$sub is BUSL; refusing" >&2; exit 1; fi
  done
  go build -trimpath -ldflags="-checklinkname=0 -X github.com/hashicorp/consul/version.GitCommit=${COMMIT:0:8}" -o "$OUT.tmp" github.com/hashicorp/consul
  mv "$OUT.tmp" "$OUT"
} >&2
suitable "$OUT" || { echo "build-consul: built binary does not report v$VERSION: $("$OUT" version | head -1)" >&2; exit 1; }
echo "$OUT"
