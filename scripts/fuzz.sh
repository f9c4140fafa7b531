#!/usr/bin/env bash
# fuzz.sh -- build every libFuzzer target (clang, -DQV_FUZZ=ON) in
# build-fuzz/ and run each one for FUZZ_SECONDS (default 20) over its seed
# corpus (tests/fuzz/<name>/corpus, read-only: new inputs go to a temporary
# directory).  Crashes are saved under build-fuzz/crashes/ and fail the run.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-$(nproc)}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQV_FUZZ=ON >/dev/null || exit 1
# Build only the fuzz targets (and what they link), not every test.
targets=$(ninja -C build-fuzz -t targets all 2>/dev/null |
          sed -n -E 's/^(fuzz_[A-Za-z0-9_]+): .*/\1/p' | sort -u)
if [ -z "$targets" ]; then
    echo "fuzz: no fuzz targets"
    exit 0
fi
# shellcheck disable=SC2086
cmake --build build-fuzz -j "$JOBS" --target $targets || exit 1

mkdir -p build-fuzz/crashes
fail=0
count=0
for dir in tests/fuzz/*/; do
    name=$(basename "$dir")
    bin=$(find build-fuzz/tests/fuzz/"$name" -maxdepth 1 -type f -name 'fuzz_*' \
          -perm -u+x 2>/dev/null | head -1)
    [ -n "$bin" ] || continue
    work=$(mktemp -d)
    seeds="$dir/corpus"
    [ -d "$seeds" ] || seeds=""
    echo "fuzz: $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$root/build-fuzz/crashes/$name-" \
            -print_final_stats=0 "$work" $seeds >"build-fuzz/$name.log" 2>&1; then
        echo "FAIL: fuzz target $name (see build-fuzz/$name.log)"
        tail -30 "build-fuzz/$name.log"
        fail=$((fail + 1))
    else
        grep -E '^#[0-9]+.*(DONE|pulse)' "build-fuzz/$name.log" | tail -1
    fi
    count=$((count + 1))
    rm -rf "$work"
done
echo "fuzz: $count targets, $fail failed"
[ "$fail" -eq 0 ]
