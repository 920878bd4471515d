#!/usr/bin/env bash
# Prints the path of a kubectl for the Kubernetes suite: the one on PATH when it has `create token` (1.24+),
# else one built from the Go module proxy into ~/.cache/meshgate/bin/kubectl-v1.37.2 (see build-kube.sh;
# ~2 min after kube-apiserver was built, which shares its caches).
set -euo pipefail
if command -v kubectl >/dev/null 2>&1; then
  minor=$(kubectl version --client 2>/dev/null | sed -n 's/^Client Version: v1\.\([0-9]*\)\..*/\1/p')
  if [ -n "$minor" ] && [ "$minor" -ge 24 ]; then command -v kubectl; exit 0; fi
fi
exec bash "$(dirname "$0")/build-kube.sh" kubectl
