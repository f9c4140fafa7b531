#!/usr/bin/env bash
# install-deps.sh -- install every Debian package and pinned npm package that
# building, running and testing Quiver needs.  Idempotent: packages already
# present are skipped and nothing is printed for them.  Uses sudo when not
# run as root.  Usage: scripts/install-deps.sh [--bench]
#   --bench   also install the benchmark references (FAISS, hnswlib)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

pkgs=(
    build-essential cmake ninja-build pkg-config git curl ca-certificates
    clang clang-format clang-tidy libclang-rt-14-dev
    libgrpc-dev protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev
    libcriterion-dev liblmdb-dev libyaml-dev libmicrohttpd-dev
    libcurl4-openssl-dev libssl-dev libopenblas-dev librdkafka-dev
    etcd-server etcd-client python3 python3-yaml
)
if [ "${1:-}" = "--bench" ]; then
    pkgs+=(libhnswlib-dev libfaiss-dev liblapack-dev dpkg-dev)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
# etcd-server starts a system service on install; we only want the binary.
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian's etcd-server package starts etcd on :2379; tests run their own.
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
    fi
    $SUDO pkill -x etcd >/dev/null 2>&1 || true
fi

# Pinned npm packages of the test harness (tests/e2e/package-lock.json).
if [ -f "$here/tests/e2e/package-lock.json" ]; then
    stamp="$here/tests/e2e/node_modules/.quiver-lock"
    if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$here/tests/e2e/package-lock.json"; then
        echo "install-deps: npm ci in tests/e2e"
        (cd "$here/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$here/tests/e2e/package-lock.json" "$stamp"
    fi
fi
