#!/usr/bin/env python3
"""torch's dense L2 matrices on the job bench/knn_timing.ts times gpumem on: 65536 x 65536 float32
randn, d = 3, 64, 128, 768: torch.cdist (fp32, its matmul expansion), and the expansion with a
TF32 matmul. Median of 3 after a warm-up; one JSON line a row."""
import json
import statistics
import sys
import time

import torch

side = int(sys.argv[1]) if len(sys.argv) > 1 else 65536
g = torch.Generator(device="cuda").manual_seed(7)


def timed(fn):
    fn()
    times = []
    for _ in range(3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times) * 1e3


def mm_l2(x, y):
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    return d2.clamp_min_(0).sqrt_()


for d in (3, 64, 128, 768):
    x = torch.randn(side, d, device="cuda", generator=g)
    y = torch.randn(side, d, device="cuda", generator=g)
    torch.backends.cuda.matmul.allow_tf32 = False
    rows = {"cdist fp32": timed(lambda: torch.cdist(x, y))}
    if d >= 64:
        torch.backends.cuda.matmul.allow_tf32 = True
        rows["mm expansion tf32"] = timed(lambda: mm_l2(x, y))
        torch.backends.cuda.matmul.allow_tf32 = False
    for name, ms in rows.items():
        print(json.dumps({"job": f"torch L2 {side}x{side} d={d} {name}", "ms": round(ms, 2),
                          "gflopsEq": round(2 * side * side * d / ms / 1e6)}))
    del x, y
    torch.cuda.empty_cache()
