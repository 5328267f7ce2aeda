#!/usr/bin/env bash
# The readback ring and the particle simulation on a GPU host (issue 19): build, the GPU
# readback and particle contracts, memcheck and racecheck over them, the example, then
# bench/particles_timing.ts (PARTICLE_COUNTS, default 100000,1000000,10000000). Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${OUT:-build/gpu-host}" && cd "${OUT:-build/gpu-host}" && pwd)
export NO_COLOR=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt"
make build > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
flags="--allow-ffi --allow-env --allow-read --allow-sys --allow-write --v8-flags=--expose-gc"
deno test $flags tests/gpu/readback.test.ts tests/gpu/kernels.test.ts > "$out/test.log" 2>&1; test=$?
for tool in $([ "${SANITIZE:-1}" = 1 ] && echo memcheck racecheck); do
  echo "== $tool"
  timeout 150 compute-sanitizer --tool $tool --print-limit 20 deno test $flags tests/gpu/readback.test.ts \
    --filter "/gpu (readback|particles)/" tests/gpu/kernels.test.ts 2>&1 |
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|Invalid|Race|rror" | head -20
done > "$out/sanitizer.txt" 2>&1
timeout 60 deno run $flags examples/particles.ts > "$out/example.txt" 2>&1
timeout 400 deno run $flags bench/particles_timing.ts "${PARTICLE_COUNTS:-100000,1000000,10000000}" \
  > "$out/particles_timing.txt" 2>&1; bench=$?
cp build/particles_timing.json "$out/" 2>/dev/null
echo "== device"; cat "$out/device.txt"
grep -E "^(ok|FAILED)|passed" "$out/test.log" | tail -4
grep -B2 -A25 "^ ERRORS" "$out/test.log" | head -60
cat "$out/sanitizer.txt" "$out/example.txt" "$out/particles_timing.txt"
echo "== exit codes: test=$test bench=$bench"
