#!/usr/bin/env bash
# One whole check on a GPU host: build, every test (tests/gpu included), the demo and the
# benchmarks. Logs go to $OUT (or build/gpu-host when unset; at most 8 files, as the device tool
# brings back); a short summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/gpu-host}
mkdir -p "$out"
export NO_COLOR=1
run() { deno run --allow-ffi --allow-env --allow-sys --allow-read "$@"; }
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; deno --version | head -1; } \
  > "$out/device.txt" 2>&1
make build > "$out/build.log" 2>&1; build=$?
make test > "$out/test.log" 2>&1; test=$?
make demo > "$out/demo.log" 2>&1; demo=$?
{
  deno bench --allow-ffi --allow-env --allow-sys bench/ffi_bench.ts
  deno bench --allow-ffi --allow-env --allow-sys bench/pool_bench.ts
} > "$out/bench.txt" 2>&1
bench=$?
python3 bench/peers/alloc_peers.py > "$out/peers.json" 2> "$out/peers.err"
# The C reference for pinned transfers, run just before gpumem's.
nvcc -O2 -o build/pinned_bandwidth bench/peers/pinned_bandwidth.c -l:libcuda.so.1 >> "$out/peers.err" 2>&1
build/pinned_bandwidth > build/pinned.json 2>> "$out/peers.err"
{ run bench/pool_compare.ts "$out/peers.json"; echo; run bench/tracker_cost.ts; echo; run bench/vmm_map.ts; echo; run bench/resize_bench.ts;
  echo; run bench/transfer_bench.ts build/pinned.json; } > "$out/tables.txt" 2>&1
echo "== device"; cat "$out/device.txt"
tail -22 "$out/demo.log"
grep -E "^\| |^group|x (faster|slower)" "$out/bench.txt" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-100 | head -60
cat "$out/peers.err"; head -16 "$out/tables.txt"; grep -v '^{' "$out/tables.txt" | tail -40
grep -B2 -A12 "^ ERRORS" "$out/test.log" | head -60
echo "== exit codes: build=$build test=$test demo=$demo bench=$bench"
grep -E "^(tests:|FAILED|ok \|)" "$out/test.log"
