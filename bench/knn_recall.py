#!/usr/bin/env python3
"""Recall of gpumem's self-kNN against an exact float64 reference (torch on the GPU).

  python3 bench/knn_recall.py TILE.f64 INDICES.i32 K [S]

INDICES holds gpumem's neighbours of the first S points (S x K int32). Prints one JSON line:
recall_set (share of the true K found) and recall_dist (share of returned neighbours whose exact
distance is within the exact K-th: tie-tolerant, as bench_knn.py reports torch's).
"""
import json
import sys

import numpy as np
import torch

tile, got_path, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = torch.from_numpy(np.fromfile(tile, dtype=np.float64)).cuda().view(-1, 3)
got = torch.from_numpy(np.fromfile(got_path, dtype=np.int32)).cuda().view(-1, k).long()
s = got.shape[0]
xc = x - x.mean(0)
q = xc[:s]
d = torch.cdist(q, xc)
d[torch.arange(s), torch.arange(s)] = float("inf")  # self excluded, as gpumem's default
ref_d, ref_i = torch.topk(d, k, dim=1, largest=False)
inter = (got.unsqueeze(2) == ref_i.unsqueeze(1)).any(2).double().sum(1) / k
dv = torch.linalg.norm(xc[got] - q.unsqueeze(1), dim=2)
within = dv <= ref_d[:, -1:] * (1 + 1e-9) + 1e-9
print(json.dumps({"S": s, "k": k, "recall_set": float(inter.mean()), "recall_dist": float(within.double().mean())}))
