#!/usr/bin/env python3
"""Writes the cuBVH kit's meshes (synth.py: bunny, icosphere L8, terrain 2M, icosphere L9) as raw
float32 vertices and uint32 triangles for bench/mesh_bench.ts:  mesh_data.py KIT_DIR OUT_DIR"""
import os
import sys

import numpy as np

kit, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, kit)
import synth  # noqa: E402

os.makedirs(out, exist_ok=True)
meshes = {"bunny": synth.bunny, "icosphere_L8": lambda: synth.icosphere(8),
          "terrain_2M": lambda: synth.terrain(1000), "icosphere_L9": lambda: synth.icosphere(9)}
for name, make in meshes.items():
    v, f = make()
    np.ascontiguousarray(v, np.float32).tofile(os.path.join(out, f"{name}.vertices.f32"))
    np.ascontiguousarray(f, np.uint32).tofile(os.path.join(out, f"{name}.triangles.u32"))
    print(name, v.shape[0], "vertices", f.shape[0], "triangles", flush=True)
