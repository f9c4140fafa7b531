#!/usr/bin/env bash
# bench.sh -- build and run Quiver's benchmarks (what `make bench` runs).
# Benchmarks are not tests: they print tables (Markdown) to stdout and to
# $BENCH_OUT (default build/bench-results/<section>.md).
#
# Sections run in the order of SECTIONS below; each is a function
# section_<name> that builds its binary in $BUILD and runs it.  Add a
# benchmark by adding a function and its name to SECTIONS.
#   scripts/bench.sh                 all sections
#   scripts/bench.sh index           only the named sections
# Environment: BUILD (default build), BENCH_DATA (default ../shared/data),
# BENCH_REPS (default 3), BENCH_THREADS (default 2),
# BENCH_SETS (index sets, default "siftsmall localsift").
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
BUILD=${BUILD:-build}
BENCH_DATA=${BENCH_DATA:-$root/../shared/data}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_SETS=${BENCH_SETS:-"siftsmall localsift"}
out_dir=${BENCH_OUT:-$root/$BUILD/bench-results}
mkdir -p "$out_dir"

# Benchmark environment (bench/README.md): OpenBLAS misdetects this CPU,
# and OpenMP/OpenBLAS threads must not fight over the cores.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$(scripts/openblas-coretype.sh)}
export OPENBLAS_NUM_THREADS=1
export OMP_WAIT_POLICY=PASSIVE

SECTIONS=(index filter rpc storage querynode e2e)

step() { printf '\n==== %s ====\n' "$*"; }

# Configures $BUILD once (Release), with extra -D options.
configure() {
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" \
        >"$out_dir/cmake.log" 2>&1 || {
        echo "bench: cmake failed (see $out_dir/cmake.log)"
        return 1
    }
}

# index: Quiver's vector indexes vs FAISS (AVX2 build) and hnswlib.
section_index() {
    local faiss_dir=${QV_FAISS_DIR:-/tmp/quiver-faiss}
    step "FAISS reference (scripts/build-faiss-avx2.sh)"
    FAISS_JOBS=${FAISS_JOBS:-$(nproc)} scripts/build-faiss-avx2.sh "$faiss_dir" ||
        echo "bench: using Debian's libfaiss-dev instead (SSE-only; the" \
             "FAISS figures are then NOT a fair reference)"
    configure -DQV_FAISS_DIR="$faiss_dir" || return 1
    cmake --build "$BUILD" --target index_bench -j "$(nproc)" || return 1
    local set
    for set in $BENCH_SETS; do
        step "index_bench $set"
        # --filter: the filtered-HNSW crossover study (reuses the index)
        local extra=(--filter)
        "$BUILD/bench/index/index_bench" --data "$BENCH_DATA" --set "$set" \
            --threads "$BENCH_THREADS" --reps "$BENCH_REPS" "${extra[@]}" |
            tee "$out_dir/index-$set.md"
    done
}

# filter: filter expression evaluation over 10M rows, scan vs scalar
# indexes (BENCH_FILTER_ROWS to change the row count).
section_filter() {
    configure || return 1
    cmake --build "$BUILD" --target filter_bench -j "$(nproc)" || return 1
    step "filter_bench"
    "$BUILD/bench/filter/filter_bench" --rows "${BENCH_FILTER_ROWS:-10000000}" \
        --reps "$BENCH_REPS" | tee "$out_dir/filter.md"
}

# rpc: the RPC layer (common/rpc) over loopback: unary latency and
# throughput, server streaming, 8 MiB messages.
section_rpc() {
    configure || return 1
    cmake --build "$BUILD" --target rpc_bench -j "$(nproc)" || return 1
    step "rpc_bench"
    "$BUILD/bench/rpc/rpc_bench" --threads "$BENCH_THREADS" \
        --reps "$BENCH_REPS" | tee "$out_dir/rpc.md"
}

# storage: write-log append throughput and latency (local files, Kafka on
# the mock broker) and object-store put/get (bench/storage).
section_storage() {
    configure || return 1
    cmake --build "$BUILD" --target storage_bench -j "$(nproc)" || return 1
    step "storage_bench"
    "$BUILD/bench/storage/storage_bench" --wal-reps "$BENCH_REPS" \
        --objstore-reps "$BENCH_REPS" | tee "$out_dir/storage.md"
}

# querynode: a sealed segment searched through its HNSW index per query
# node request vs the index library's own search (bench/querynode), with
# the segment in memory and mapped.
section_querynode() {
    configure || return 1
    cmake --build "$BUILD" --target qn_sealed_bench -j "$(nproc)" || return 1
    local m
    for m in 0 1; do
        step "qn_sealed_bench --mapped $m"
        "$BUILD/bench/querynode/qn_sealed_bench" --data "$BENCH_DATA" \
            --mapped "$m" | tee "$out_dir/querynode-mapped$m.md"
    done
}

# e2e: the whole server through its MilvusService (bench/e2e): inserts,
# flush, index build and load, nq=1 search vs the index library; on
# `quiver standalone` (localsift-332K) and on the multi-process cluster
# (bench/e2e/cluster.sh; a subset, the Kafka test broker keeps ~5 MiB per
# partition).  BENCH_E2E_MODES to pick ("standalone cluster").
section_e2e() {
    configure || return 1
    cmake --build "$BUILD" --target e2e_bench quiver qv_kafka_broker \
        -j "$(nproc)" || return 1
    local mode
    for mode in ${BENCH_E2E_MODES:-standalone cluster}; do
        step "e2e_bench --spawn $mode"
        "$BUILD/bench/e2e/e2e_bench" --spawn "$mode" --data "$BENCH_DATA" |
            tee "$out_dir/e2e-$mode.md"
    done
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=("${SECTIONS[@]}")
status=0
for s in "${want[@]}"; do
    if ! declare -F "section_$s" >/dev/null; then
        echo "bench: unknown section '$s' (have: ${SECTIONS[*]})"
        status=1
        continue
    fi
    "section_$s" || status=1
done
echo
echo "bench: results in $out_dir"
exit $status
