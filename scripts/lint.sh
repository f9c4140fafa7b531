#!/usr/bin/env bash
# lint.sh -- checks that need no compiler: banned functions (common/banned.h
# lists them) must not appear in our C sources.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(git ls-files '*.c' '*.h' | grep -v '^common/banned.h$' |
      xargs grep -n -E '\b(strcpy|strcat|strncpy|sprintf|vsprintf|strtok)\s*\(' |
      grep -v -E '\b(snprintf|vsnprintf)\b' || true)
if [ -n "$bad" ]; then
    echo "lint: banned functions used:"
    echo "$bad"
    exit 1
fi
echo "lint: no banned functions"
