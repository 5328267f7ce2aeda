#!/usr/bin/env bash
# Distances and kNN on a GPU host, beside torch, scipy and sklearn in the same call: build, the
# kNN tests (CUDA and cpu), memcheck and racecheck over the CUDA kNN contracts, the kit's tiles,
# bench/knn_timing.ts, recall against float64, then the kit's bench_knn.py. Expects the kit at
# .gpu/mesh_knn. KNN_SIZES (default 1M,4M,17M) and PEER_SIZES (default 1M,4M). Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${OUT:-build/gpu-host}" && cd "${OUT:-build/gpu-host}" && pwd)
kit=.gpu/mesh_knn
mkdir -p "$out" build
export NO_COLOR=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt"
python3 bench/knn_data.py $kit /tmp/tiles "${KNN_SIZES:-1M,4M,17M}" > "$out/data.log" 2>&1 &
make build > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
flags="--allow-ffi --allow-env --allow-read --allow-sys --v8-flags=--expose-gc"
deno test $flags tests/gpu/knn.test.ts tests/knn.test.ts > "$out/test.log" 2>&1; test=$?
for tool in $([ "${SANITIZE:-1}" = 1 ] && echo memcheck racecheck); do
  echo "== $tool"
  timeout 150 compute-sanitizer --tool $tool --print-limit 20 deno test $flags --filter "/gpu knn: (knnPoints with separate|radiusSearch|l2Distances and knn|tf32, bf16|device views)/" tests/gpu/knn.test.ts 2>&1 | grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|Invalid|Race|rror" | head -20
done > "$out/sanitizer.txt" 2>&1
wait
KNN_RECALL=/tmp/recall_1M.i32 timeout 240 deno run -A bench/knn_timing.ts /tmp/tiles "$out/knn_timing.json" > "$out/knn_timing.txt" 2>&1; bench=$?
[ -f /tmp/recall_1M.i32 ] && python3 bench/knn_recall.py /tmp/tiles/lidar_1000000.f64 /tmp/recall_1M.i32 20 > "$out/recall.json" 2>&1
for n in 4000000 17000000; do
  [ -f /tmp/tiles/lidar_$n.f64 ] && timeout 60 deno run -A bench/knn_limit.ts /tmp/tiles/lidar_$n.f64 1GiB
done > "$out/knn_limit.txt" 2>&1
timeout 120 python3 bench/knn_torch.py > "$out/knn_torch.json" 2>&1
if [ "${PEERS:-1}" = 1 ]; then
  (cd $kit && timeout 200 python3 bench_knn.py --parts gpu,cpu --sizes "${PEER_SIZES:-1M,4M}" --out "$out" --deadline $(( $(date +%s) + 180 )) > "$out/peers.log" 2>&1)
fi
echo "== device"; cat "$out/device.txt"
grep -E "^(ok|FAILED)|passed|=> " "$out/test.log" | tail -6
grep -B2 -A25 "^ ERRORS" "$out/test.log" | head -60
cat "$out/sanitizer.txt"
cat "$out/knn_timing.txt" | tail -20
echo "== recall"; cat "$out/recall.json" 2>/dev/null
echo "== under GPUMEM_LIMIT=1GiB"; cat "$out/knn_limit.txt"
echo "== torch vector knn"; tail -3 "$out/knn_torch.json"
echo "== peers"; grep -E "^\||self-kNN|cKDTree|sklearn" "$out/peers.log" 2>/dev/null | head -40
echo "== exit codes: test=$test bench=$bench"
