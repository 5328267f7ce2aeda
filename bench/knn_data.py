#!/usr/bin/env python3
"""Writes the kit's LiDAR-like tiles (synth.lidar_tile, Lambert-93 offsets) as raw float64 xyz.

  python3 bench/knn_data.py KIT_DIR OUT_DIR 1M,4M,17M

Each tile lands in OUT_DIR/lidar_<N>.f64, the same points bench_knn.py times torch and scipy on.
"""
import os
import sys

kit, out, sizes = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, kit)
import synth  # noqa: E402

os.makedirs(out, exist_ok=True)
for s in sizes.split(","):
    n = int(float(s[:-1]) * {"K": 1e3, "M": 1e6}[s[-1].upper()]) if s[-1].isalpha() else int(s)
    synth.lidar_tile(n).astype("float64").tofile(os.path.join(out, f"lidar_{n}.f64"))
