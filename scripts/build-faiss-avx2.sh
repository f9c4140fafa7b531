#!/usr/bin/env bash
# build-faiss-avx2.sh -- build the FAISS reference of the index benchmark for
# this CPU (libfaiss_avx2.a) from Debian's own source package, outside the
# repository.  Debian's libfaiss-dev is compiled for baseline x86-64 (SSE
# only) and is 2-4x slower than FAISS's AVX2 build, so comparing against it
# proves little (see bench/README.md).
#
# Usage: scripts/build-faiss-avx2.sh [DIR]      (default: $QV_FAISS_DIR or
#        /tmp/quiver-faiss).  FAISS_JOBS (default 1) sets the parallelism;
#        the build runs under `nice -n 19`.
# On success prints the line "faiss-avx2: DIR" and leaves
#   DIR/lib/libfaiss_avx2.a  and  DIR/include/faiss/*.h
# When the source package cannot be fetched or built it prints a line that
# starts with "faiss-avx2: FALLBACK" and exits 2: the benchmark then links
# Debian's libfaiss-dev and says so in its output.
set -uo pipefail

dir=${1:-${QV_FAISS_DIR:-/tmp/quiver-faiss}}
jobs=${FAISS_JOBS:-1}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

fallback() {
    echo "faiss-avx2: FALLBACK to Debian libfaiss-dev (SSE-only build): $*" >&2
    exit 2
}

if [ -f "$dir/lib/libfaiss_avx2.a" ] && [ -f "$dir/include/faiss/IndexHNSW.h" ]; then
    echo "faiss-avx2: $dir"
    exit 0
fi
mkdir -p "$dir" || fallback "cannot create $dir"
log="$dir/build.log"
: >"$log"

# 1. A deb-src line for bookworm main, so that `apt-get source` works.
srclist=/etc/apt/sources.list.d/quiver-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
    echo "faiss-avx2: enabling deb-src for bookworm main ($srclist)"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
        $SUDO tee "$srclist" >/dev/null || fallback "cannot write $srclist"
    $SUDO apt-get update -qq >>"$log" 2>&1 || fallback "apt-get update failed (see $log)"
fi
# Build dependencies of the library itself (no Python, no GPU, no tests).
need=()
for p in dpkg-dev cmake libopenblas-dev liblapack-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${need[@]}" >>"$log" 2>&1 || fallback "cannot install ${need[*]}"
fi

# 2. The source package.
src=$(ls -d "$dir"/src/faiss-*/ 2>/dev/null | head -1)
if [ -z "$src" ]; then
    mkdir -p "$dir/src"
    echo "faiss-avx2: apt-get source faiss into $dir/src"
    (cd "$dir/src" && apt-get source -qq faiss) >>"$log" 2>&1 ||
        fallback "apt-get source faiss failed (see $log)"
    src=$(ls -d "$dir"/src/faiss-*/ 2>/dev/null | head -1)
    [ -n "$src" ] || fallback "no faiss-* folder after apt-get source"
fi
src=${src%/}

# 3. Configure and build only the AVX2 library.
echo "faiss-avx2: building libfaiss_avx2.a in $dir/build (jobs $jobs, nice 19; log $log)"
nice -n 19 cmake -S "$src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release \
    -DFAISS_OPT_LEVEL=avx2 -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF \
    -DBUILD_TESTING=OFF -DBUILD_SHARED_LIBS=OFF -DBLA_VENDOR=OpenBLAS \
    >>"$log" 2>&1 || fallback "cmake configure failed (see $log)"
nice -n 19 cmake --build "$dir/build" --target faiss_avx2 -j "$jobs" \
    >>"$log" 2>&1 || fallback "build failed (see $log)"

# 4. Lay out lib/ and include/.
lib=$(find "$dir/build" -name libfaiss_avx2.a | head -1)
[ -n "$lib" ] || fallback "libfaiss_avx2.a not produced"
mkdir -p "$dir/lib" "$dir/include"
cp "$lib" "$dir/lib/" || fallback "cannot copy $lib"
(cd "$src" && find faiss -name '*.h' -exec cp --parents {} "$dir/include/" \;) ||
    fallback "cannot copy headers"
echo "faiss-avx2: $dir"
