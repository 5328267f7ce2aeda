#!/usr/bin/env bash
# The mesh BVH on a GPU host, beside cuBVH in the same call: build, the mesh tests (CUDA and
# cpu), compute-sanitizer memcheck and racecheck over the CUDA mesh tests, bench/mesh_bench.ts
# on the kit's meshes, then the kit's cuBVH benchmark. Expects the kit at .gpu/mesh_knn (see
# ../shared/peers/mesh_knn/README.md). Logs under $OUT; a summary last.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/gpu-host}
kit=.gpu/mesh_knn
mkdir -p "$out" build
export NO_COLOR=1 GPUMEM_BUNNY=$kit/data/bunny.npz
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt"
[ "${SANITIZE:-0}" = 1 ] || (cd $kit && timeout 300 python3 build_cubvh.py --build-dir /tmp/cubvh_build > /tmp/cubvh_build.log 2>&1; echo $? > /tmp/cubvh_rc) &
make build > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
flags="--allow-ffi --allow-env --allow-read --allow-sys --v8-flags=--expose-gc"
test=skipped
[ "${SANITIZE:-0}" = 1 ] || { deno test $flags tests/gpu/mesh_bvh.test.ts tests/mesh_bvh.test.ts tests/gpu/kernels.test.ts > "$out/test.log" 2>&1; test=$?; }
bench=skipped
if [ "${SANITIZE:-0}" != 1 ]; then
  python3 bench/mesh_data.py $kit /tmp/meshes > /dev/null 2>&1
  timeout 200 deno run -A bench/mesh_bench.ts /tmp/meshes "$out/mesh_bench.json" > "$out/mesh_bench.txt" 2>&1; bench=$?
fi
# SANITIZE=1: compute-sanitizer instead of the benchmarks (each is minutes under the checker).
[ "${SANITIZE:-0}" = 1 ] && {
  for tool in memcheck racecheck; do
    echo "== $tool"
    timeout 170 compute-sanitizer --tool $tool --print-limit 20 deno test $flags --filter "/gpu mesh bvh: (closest points match|ray casts|signed distances|refit|the CPU and CUDA|device views)/" tests/gpu/mesh_bvh.test.ts 2>&1 | grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|Invalid|Race|rror" | head -20
  done > "$out/sanitizer.txt" 2>&1
}
wait
if [ "${SANITIZE:-0}" = 1 ]; then
  echo skipped > "$out/cubvh_table.txt"
elif [ "$(cat /tmp/cubvh_rc)" = 0 ]; then
  (cd $kit && timeout 240 python3 bench_cubvh.py --out "$OLDPWD/$out" --build-dir /tmp/cubvh_build --deadline $(( $(date +%s) + 200 )) --leak-n 100 > /tmp/cubvh_bench.log 2>&1)
  grep -E "^\|" /tmp/cubvh_bench.log > "$out/cubvh_table.txt"
else
  tail -20 /tmp/cubvh_build.log > "$out/cubvh_table.txt"
fi
echo "== device"; cat "$out/device.txt"
grep -E "^(ok|FAILED)|passed|=> " "$out/test.log" 2>/dev/null | tail -8
grep -B2 -A15 "^ ERRORS" "$out/test.log" 2>/dev/null | head -50
cat "$out/sanitizer.txt" 2>/dev/null
tail -8 "$out/mesh_bench.txt" 2>/dev/null
echo "== cuBVH"; cat "$out/cubvh_table.txt"
echo "== exit codes: test=$test bench=$bench"
