#!/usr/bin/env bash
# One whole check on a GPU host: build, every test (tests/gpu included), the demo and the
# benchmarks. Logs go to $OUT (or build/gpu-host when unset); a short summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/gpu-host}
mkdir -p "$out"
export NO_COLOR=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; deno --version | head -1; } \
  > "$out/device.txt" 2>&1
make build > "$out/build.log" 2>&1; build=$?
make test > "$out/test.log" 2>&1; test=$?
make demo > "$out/demo.log" 2>&1; demo=$?
deno bench --allow-ffi --allow-env --allow-sys=systemMemoryInfo --json bench/ffi_bench.ts \
  > "$out/ffi_bench.json" 2> "$out/ffi_bench.err"
deno bench --allow-ffi --allow-env --allow-sys=systemMemoryInfo bench/ffi_bench.ts > "$out/ffi_bench.txt" 2>&1
bench=$?
python3 bench/peers/alloc_peers.py > "$out/peers.json" 2> "$out/peers.err"
deno run --allow-ffi --allow-env --allow-sys=systemMemoryInfo --allow-read bench/pool_compare.ts "$out/peers.json" \
  > "$out/pool_compare.txt" 2>&1
deno bench --allow-ffi --allow-env --allow-sys --allow-read bench/pool_bench.ts > "$out/pool_bench.txt" 2>&1
deno run --allow-ffi --allow-env --allow-sys bench/vmm_map.ts > "$out/vmm_map.txt" 2>&1
echo "== device"; cat "$out/device.txt"
echo "== exit codes: build=$build test=$test demo=$demo bench=$bench"
grep -E "^(tests:|FAILED|ok \|)" "$out/test.log"
grep -B2 -A12 "^ ERRORS" "$out/test.log" | head -60
tail -22 "$out/demo.log"
grep -E "^\| |^group|x (faster|slower)" "$out/ffi_bench.txt" | head -30
cat "$out/peers.err"; head -14 "$out/pool_compare.txt"
cat "$out/vmm_map.txt"
grep -E "^group|^\| (cached|miss)" "$out/pool_bench.txt" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-110
