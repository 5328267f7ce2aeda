#!/usr/bin/env bash
# A short check on a GPU host: build, every GPU test (tests/gpu; TESTS=0 skips), memcheck (leak
# check full) and racecheck over them (SANITIZE=1), then the mesh benchmark's quick set on the
# kit's meshes when the kit is at .gpu/mesh_knn (BENCH=0 skips). Logs under $OUT; a summary last.
# One call each: `TEST_S=400 bash bench/gpu_check.sh`, then `TESTS=0 BENCH=0 SANITIZE=1 ...`.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/gpu-host}
mkdir -p "$out"
export NO_COLOR=1 GPUMEM_BUNNY=.gpu/mesh_knn/data/bunny.npz
make build > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
test=skipped
if [ "${TESTS:-1}" = 1 ]; then
  timeout "${TEST_S:-150}" deno test --allow-ffi --allow-env --allow-read --allow-sys --allow-write --allow-run \
    --v8-flags=--expose-gc tests/gpu/ > "$out/test.log" 2>&1
  test=$?
fi
# The GPU's own checkers over every GPU test: memcheck with leak checking (the pools give their
# memory back at exit), then racecheck. SANITIZE=1 runs them (with TESTS=0 they fit one call).
for tool in $([ "${SANITIZE:-0}" = 1 ] && echo memcheck racecheck); do
  extra=$([ $tool = memcheck ] && echo "--leak-check full")
  echo "== $tool $extra"
  timeout "${SANITIZE_S:-260}" compute-sanitizer --tool $tool $extra --print-limit 20 deno test \
    --allow-ffi --allow-env --allow-read --allow-sys --allow-write --allow-run tests/gpu/ 2>&1 |
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|leaked|Invalid|Race|passed|failed" | head -20
done > "$out/sanitizer.txt" 2>&1
bench=skipped
if [ -d .gpu/mesh_knn ] && [ "${BENCH:-1}" = 1 ]; then
  python3 bench/mesh_data.py .gpu/mesh_knn /tmp/meshes > /dev/null 2>&1
  MESH_QUICK=1 timeout 60 deno run -A bench/mesh_bench.ts /tmp/meshes "$out/mesh_quick.json" > "$out/mesh_quick.txt" 2>&1
  bench=$?
fi
grep -B2 -A15 "^ ERRORS" "$out/test.log" | head -40
tail -7 "$out/mesh_quick.txt" 2>/dev/null
cat "$out/sanitizer.txt"
echo "== exit codes: test=$test bench=$bench"
grep -E "^(ok|FAILED) \|" "$out/test.log"
