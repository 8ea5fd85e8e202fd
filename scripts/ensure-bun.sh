#!/usr/bin/env bash
# Install bun from the npm registry into .tools/ and print the binary's path.
#
# Reflex would otherwise download bun from the internet on first run, which fails on machines that
# only reach package registries. Idempotent: a present binary of the pinned version is a fast no-op.
set -euo pipefail

BUN_VERSION="${BUN_VERSION:-1.4.5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${OPSAPP_TOOLS_DIR:-$ROOT/.tools}"

case "$(uname -m)" in
  x86_64 | amd64) ARCH=x64 ;;
  aarch64 | arm64) ARCH=aarch64 ;;
  *) echo "ensure-bun: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
BUN="$TOOLS/node_modules/@oven/bun-linux-$ARCH/bin/bun"

if [[ -x "$BUN" ]] && [[ "$("$BUN" --version 2>/dev/null)" == "$BUN_VERSION" ]]; then
  echo "$BUN"
  exit 0
fi

command -v npm >/dev/null || { echo "ensure-bun: npm is required (install Node.js/npm)" >&2; exit 1; }
mkdir -p "$TOOLS"
# --ignore-scripts: the bun package's postinstall only relinks its wrapper; we call the
# platform binary directly. Keep stdout clean: only the path is printed there.
npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --ignore-scripts \
  "bun@$BUN_VERSION" >&2

if [[ ! -x "$BUN" ]]; then
  echo "ensure-bun: bun binary not found at $BUN after install" >&2
  exit 1
fi
"$BUN" --version >/dev/null
echo "$BUN"
