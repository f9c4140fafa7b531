#!/usr/bin/env bash
# openblas-coretype.sh -- print the OPENBLAS_CORETYPE that makes Debian's
# OpenBLAS 0.3.21 use its fast kernels on this CPU.  It misdetects recent
# AVX-512 Xeons as "Prescott" (SSE3 only, 4x slower); we choose from the CPU
# flags instead.
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
case "$flags" in
    *avx512f*avx512bw*|*avx512bw*avx512f*) echo SkylakeX ;;
    *avx2*) echo Haswell ;;
    *) echo Nehalem ;;
esac
