#!/usr/bin/env bash
# Builds the grpc-go proxyless xDS test client with the go command and caches it by source hash.
#   build-grpc-go-client.sh            today's grpc-go (grpc-go-client/go.mod)
#   build-grpc-go-client.sh v1.53.0    an older release: grpc-go-client/versions/v1.53.0/go.{mod,sum}
#                                      when checked in, else resolved from the Go module proxy
# Prints the binary's path on stdout; everything else goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")/grpc-go-client" && pwd)"
version="${1:-}"
CACHE="${MESHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshgate}"
command -v go >/dev/null || { echo "build-grpc-go-client: the go command is needed" >&2; exit 1; }

src="$here"
tags=""
if [ -n "$version" ]; then
  [[ "$version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || { echo "build-grpc-go-client: version must look like v1.53.0, got $version" >&2; exit 2; }
  # grpc.NewClient arrived in 1.63; older releases build dial_pre163.go instead of dial.go.
  if [ "${BASH_REMATCH[1]}" -lt 63 ]; then tags="grpc_pre163"; fi
  mkdir -p "$CACHE/grpc-go-client"
  # A directory of its own per run, so two suites building the same version at once do not collide.
  src=$(mktemp -d "$CACHE/grpc-go-client/src-$version.XXXXXX")
  trap 'rm -rf "$src"' EXIT
  cp "$here"/*.go "$src/"
  if [ -f "$here/versions/$version/go.mod" ]; then
    cp "$here/versions/$version/go.mod" "$here/versions/$version/go.sum" "$src/"
  else
    echo "build-grpc-go-client: no pinned go.mod for $version; resolving it from the module proxy" >&2
    ( cd "$src" && printf 'module meshgate.local/grpc-go-client\n\ngo 1.19\n' > go.mod &&
      GOFLAGS=-mod=mod GOTOOLCHAIN=local go get "google.golang.org/grpc@$version" &&
      GOTOOLCHAIN=local go mod tidy ) >&2
  fi
fi
hash=$( (cat "$src/go.mod" "$src/go.sum" "$src"/*.go; echo "tags=$tags") | sha256sum | cut -c1-16)
out="$CACHE/grpc-go-client/$hash/grpc-go-client"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$(dirname "$out")"
# One build of a given source at a time (test files start in parallel); the others then find it built.
exec 9>"$out.lock"
flock 9
if [ -x "$out" ]; then echo "$out"; exit 0; fi
( cd "$src" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -tags "$tags" -o "$out.tmp.$$" . ) >&2
mv "$out.tmp.$$" "$out"
echo "$out"
