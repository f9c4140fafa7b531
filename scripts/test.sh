#!/usr/bin/env bash
# test.sh -- build and run every test suite of Quiver (what `make test` and
# CI run):
#   1. the Release build (what `make run` runs): unit, conformance, recall and integration tests
#      (ctest; tests that need etcd, the Kafka broker or the S3 server start
#      them on 127.0.0.1 themselves),
#   2. the ASan+UBSan build of the unit tests (ctest -L unit), failing on any
#      LeakSanitizer report,
#   3. bounded libFuzzer runs of every fuzz target (clang), when any exist,
#   4. the SDK end-to-end suite (node --test tests/e2e) against real servers.
# Ends with one line "N passed, N failed" summing the suites.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
JOBS=${JOBS:-$(nproc)}
export OPENBLAS_NUM_THREADS=1
[ -n "${OPENBLAS_CORETYPE:-}" ] || export OPENBLAS_CORETYPE=$(scripts/openblas-coretype.sh)

passed=0
failed=0
log_dir=${TEST_LOG_DIR:-$root/build/test-logs}
mkdir -p "$log_dir"

step() { printf "\n==== %s (at %ds) ====\n" "$*" "$SECONDS"; }

# Adds ctest's counts from a log to the totals.
count_ctest() {
    local line total nfail
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        return
    fi
    nfail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    total=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
}

step "format and lint"
if scripts/format.sh check && scripts/lint.sh; then
    passed=$((passed + 1))
else
    echo "FAIL: format-check or lint"; failed=$((failed + 1))
fi

step "build (Release)"
if cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
   cmake --build build -j "$JOBS"; then
    step "ctest (all suites)"
    (cd build && ctest --output-on-failure -j "$JOBS" --timeout 900) \
        2>&1 | tee "$log_dir/ctest.log"
    count_ctest "$log_dir/ctest.log"
else
    echo "FAIL: build"; failed=$((failed + 1))
fi

step "build (ASan+UBSan)"
if cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DQV_SANITIZE=address,undefined >/dev/null &&
   cmake --build build-asan -j "$JOBS"; then
    step "ctest -L unit (ASan+UBSan)"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
        UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j "$JOBS" -L unit --timeout 1200) \
        2>&1 | tee "$log_dir/ctest-asan.log"
    count_ctest "$log_dir/ctest-asan.log"
    if grep -q 'ERROR: LeakSanitizer' "$log_dir/ctest-asan.log"; then
        echo "FAIL: LeakSanitizer reported leaks (see $log_dir/ctest-asan.log)"
        failed=$((failed + 1))
    fi
else
    echo "FAIL: sanitizer build"; failed=$((failed + 1))
fi

if [ -x scripts/fuzz.sh ] && ls tests/fuzz/*/ >/dev/null 2>&1; then
    step "fuzz (bounded runs)"
    if scripts/fuzz.sh 2>&1 | tee "$log_dir/fuzz.log"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
fi

if [ -d tests/e2e ] && ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
    step "SDK end-to-end (node --test)"
    export QUIVER_BIN="$root/build/quiver"
    : >"$log_dir/e2e.log"
    # One file at a time: the servers each file starts stay within bounds,
    # and this works on every Node from 18 on (Debian bookworm ships 18).
    for f in tests/e2e/*.test.mjs; do
        echo "--- $f"
        (cd tests/e2e && timeout 900 node --test --test-reporter=tap \
            "$(basename "$f")") 2>&1 | tee "$log_dir/e2e-one.log"
        cat "$log_dir/e2e-one.log" >>"$log_dir/e2e.log"
        p=$(grep -E '^# pass [0-9]+' "$log_dir/e2e-one.log" | awk '{print $3}' | tail -1)
        fl=$(grep -E '^# fail [0-9]+' "$log_dir/e2e-one.log" | awk '{print $3}' | tail -1)
        if [ -z "$p" ]; then
            echo "FAIL: $f did not finish"
            failed=$((failed + 1))
        else
            passed=$((passed + p))
            failed=$((failed + ${fl:-0}))
        fi
    done
fi

echo
echo "test.sh: finished in ${SECONDS}s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
