#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy into ~/.cache/meshgate/bin/kube-apiserver-v1.37.2 (first use
# ~8 min) and prints its path. See build-kube.sh.
exec bash "$(dirname "$0")/build-kube.sh" kube-apiserver
