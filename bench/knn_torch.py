#!/usr/bin/env python3
"""torch's exact vector kNN on the job bench/knn_timing.ts times gpumem on: d = 128, a 1M corpus,
10k queries, k = 10, by cdist + topk (query chunks of 1k so the distance block stays 4 GB).
Median of 3 after a warm-up; one JSON line."""
import json
import statistics
import time

import torch

torch.set_float32_matmul_precision("highest")
g = torch.Generator(device="cuda").manual_seed(7)
c = torch.randn(1_000_000, 128, device="cuda", generator=g)
q = torch.randn(10_000, 128, device="cuda", generator=g)


def run():
    out = []
    for s in range(0, q.shape[0], 1000):
        out.append(torch.topk(torch.cdist(q[s:s + 1000], c), 10, dim=1, largest=False).indices)
    return torch.cat(out)


run()
times = []
for _ in range(3):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    run()
    torch.cuda.synchronize()
    times.append(time.perf_counter() - t0)
print(json.dumps({"job": "torch cdist+topk d=128 1M corpus 10k queries k=10", "ms": statistics.median(times) * 1e3}))
