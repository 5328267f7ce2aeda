#!/usr/bin/env bash
# Issue 18's corpus and issue 17's PyTorch snapshot, on a GPU host: records the eight workloads of
# bench/corpus/record_corpus.py (PyTorch default and expandable figures each, JOBS runs side by
# side, default 8; SCALE, default 1; SNAPSHOT=0 skips the snapshot),
# replays every trace through gpumem with --explain, records a small PyTorch snapshot and opens
# it with the viewer. The traces land in bench/corpus/ (copied to $OUT to bring back).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${OUT:-build/gpu-host}" && cd "${OUT:-build/gpu-host}" && pwd)
export NO_COLOR=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt"
python3 -c "import torch, torchvision, timm, transformers, torch_geometric; print(torch.__version__)" \
  >> "$out/device.txt" 2>&1
timeout "${RECORD_S:-420}" python3 bench/corpus/record_corpus.py --scale "${SCALE:-1}" --jobs "${JOBS:-8}" \
  ${ONLY:+--only "$ONLY"} > "$out/record.jsonl" 2> "$out/record.err"
record=$?
[ "${SNAPSHOT:-1}" = 1 ] && timeout 60 python3 bench/corpus/record_corpus.py --only two_streams --scale 0.1 \
  --out /tmp/snapshot_run --snapshot "$out/torch_snapshot.pickle" > /dev/null 2>> "$out/record.err"
deno run --allow-read --allow-write src/cli/viz.ts "$out/torch_snapshot.pickle" -o "$out/torch.html" \
  > "$out/viz.txt" 2>&1
deno run --allow-read --allow-ffi --allow-env --allow-sys src/cli/replay.ts --explain \
  bench/corpus/*.json.gz > "$out/replay.txt" 2>&1
deno run --allow-read --allow-ffi --allow-env --allow-sys src/cli/replay.ts --explain --fixed-segments \
  bench/corpus/*.json.gz > "$out/replay_fixed.txt" 2>&1
tar czf "$out/corpus.tgz" bench/corpus/*.json.gz 2>/dev/null
# What comes back from the host is a few files at most: the rest in one archive.
tar czf "$out/logs.tgz" -C "$out" device.txt record.err viz.txt replay_fixed.txt torch.html \
  torch_snapshot.pickle 2>/dev/null
echo "== device"; cat "$out/device.txt"
cat "$out/record.jsonl"; tail -5 "$out/record.err"
cat "$out/viz.txt" "$out/replay.txt"
echo "== exit codes: record=$record"
