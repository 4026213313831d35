#!/usr/bin/env bash
# Rebuilds spmm.wasm from spmm.c (committed, so users and CI need no compiler). Needs clang and lld with
# the WebAssembly target (Debian: apt-get install clang lld). Same compiler, same bytes: tests/sparse_test.ts
# rebuilds it where clang is present and compares.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-spmm.wasm}"
clang --target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -ffp-contract=off \
  -Wl,--no-entry -Wl,--import-memory -Wl,--export-dynamic -Wl,--strip-all -o "$out" spmm.c
