#!/usr/bin/env bash
# format.sh check|fix -- run clang-format over our own C sources and headers
# (generated code and third-party files excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v -E '(^|/)(third_party|node_modules)/')
[ ${#files[@]} -gt 0 ] || exit 0
if [ "$mode" = fix ]; then
    clang-format -i "${files[@]}"
else
    clang-format --dry-run --Werror "${files[@]}"
    echo "format-check: ${#files[@]} files clean"
fi
