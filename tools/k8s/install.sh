#!/usr/bin/env bash
# kubeconform and kustomize into .tools/bin (tests/integration/test_deploy_manifests.py), built with
# `go install` through the Go module proxy. Both need Go >= 1.24; an older `go` (Debian bookworm's
# golang-go is 1.19, too old to switch toolchains itself) gets the Go toolchain module
# golang.org/toolchain from the same proxy, as GOTOOLCHAIN would fetch it. A no-op once installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/.tools/bin"
[ -x "$bin/kubeconform" ] && [ -x "$bin/kustomize" ] && exit 0
go=go
if ! command -v go >/dev/null; then
  echo "go is missing: apt-get install golang-go (.ci/run does)" >&2
  exit 1
fi
minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "$minor" -lt 24 ]; then
  toolchain="$root/.tools/go1.24.4"
  if [ ! -x "$toolchain/bin/go" ]; then
    arch=$(go env GOARCH)
    mkdir -p "$toolchain.tmp"
    curl -fsSL "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.24.4.linux-$arch.zip" -o "$toolchain.zip"
    (cd "$toolchain.tmp" && python3 -m zipfile -e "$toolchain.zip" .)
    mv "$toolchain.tmp"/golang.org/toolchain@*/ "$toolchain"
    chmod +x "$toolchain"/bin/* "$toolchain"/pkg/tool/*/*
    rm -rf "$toolchain.tmp" "$toolchain.zip"
  fi
  go="$toolchain/bin/go"
  export GOROOT="$toolchain"
fi
export GOBIN="$bin" GOFLAGS=-mod=mod GOTOOLCHAIN=local
"$go" install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
"$go" install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
