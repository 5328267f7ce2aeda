/**
 * The mesh BVH's node layout (csrc/bvh/bvh_layout.h), read back from the CPU build's memory: every
 * child's axis-aligned and oriented boxes hold every vertex of its triangles, exactly in float64
 * (the distance bound is only a bound if they do), both node arrays name the same children, and
 * each child's triangles are the run its distance node says.
 */

import assert from "node:assert/strict";
import { kernelLibrary } from "../mod.ts";
import { hostAddress } from "../src/kernels/native_call.ts";
import { BVH_LAYOUT, nodesBytes, SAH_MAX_TRIANGLES } from "../src/kernels/mesh_build.ts";
import { icosphere, type Mesh, triangleSoup, withSeed } from "./contracts/meshes.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
const library = kernelLibrary("cpu");

interface Built {
  tris: Float32Array;
  nodes: DataView;
  nodeCount: number;
}

/** Builds `mesh` with the CPU library's entry points, as MeshBvh.build does on the cpu device. */
function build(mesh: Mesh, leafSize: number): Built {
  const n = mesh.triangles.length / 3;
  const symbols = library.symbols;
  const scratchBytes = new BigUint64Array(1);
  assert.equal(symbols.gm_bvh_build_scratch(BigInt(n), scratchBytes), 0);
  const scratch = new Uint8Array(Number(scratchBytes[0]));
  const tris = new Float32Array(n * BVH_LAYOUT.triangle / 4);
  const indices = new Uint32Array(3 * n);
  const count = new Uint32Array(1);
  const origin = Float64Array.from(mesh.vertices.subarray(0, 3));
  const vertices = Float64Array.from(mesh.vertices);
  assert.equal(
    symbols.gm_bvh_build_tree(
      0,
      hostAddress(vertices),
      BigInt(vertices.length / 3),
      1,
      hostAddress(mesh.triangles),
      BigInt(n),
      origin,
      leafSize,
      hostAddress(scratch),
      scratchBytes[0],
      hostAddress(tris),
      hostAddress(indices),
      hostAddress(count),
      null,
    ),
    0,
  );
  const nodeCount = count[0];
  const nodes = new Uint8Array(nodesBytes(nodeCount));
  const winding = new Uint8Array(nodeCount * BVH_LAYOUT.winding);
  const parents = new Int32Array(nodeCount);
  assert.equal(
    symbols.gm_bvh_build_nodes(
      0,
      BigInt(n),
      leafSize,
      hostAddress(scratch),
      scratchBytes[0],
      hostAddress(nodes),
      hostAddress(winding),
      hostAddress(parents),
      BigInt(nodeCount),
      hostAddress(tris),
      null,
    ),
    0,
  );
  return { tris, nodes: new DataView(nodes.buffer), nodeCount };
}

/** The triangle positions under child `side` of node `j` (a leaf run, or a whole subtree). */
function trianglesUnder(b: Built, j: number, side: number, out: number[] = []): number[] {
  const child = b.nodes.getInt32(j * BVH_LAYOUT.node + 48 + 4 * side, true);
  const count = b.nodes.getUint32(j * BVH_LAYOUT.node + 56 + 4 * side, true);
  if (child < 0) {
    for (let t = ~child; t < ~child + count; t++) out.push(t);
  } else {
    trianglesUnder(b, child, 0, out);
    trianglesUnder(b, child, 1, out);
  }
  return out;
}

function vertexOf(b: Built, t: number, corner: number): number[] {
  const base = t * 12 + corner * 4;
  return [b.tris[base], b.tris[base + 1], b.tris[base + 2]];
}

const dot = (a: number[], c: number[]) => a[0] * c[0] + a[1] * c[1] + a[2] * c[2];
const cross = (a: number[], c: number[]) => [
  a[1] * c[2] - a[2] * c[1],
  a[2] * c[0] - a[0] * c[2],
  a[0] * c[1] - a[1] * c[0],
];

/** Checks every child of every node of `b`; returns how many vertex tests ran. */
function checkBoxes(b: Built): number {
  const distanceBase = Math.ceil(b.nodeCount * BVH_LAYOUT.node / 128) * 128;
  let checked = 0;
  for (let j = 0; j < b.nodeCount; j++) {
    const at = distanceBase + j * BVH_LAYOUT.distanceNode;
    for (let side = 0; side < 2; side++) {
      const f = (k: number) => b.nodes.getFloat32(at + 48 * side + 4 * k, true);
      const centre = [f(0), f(1), f(2)], normal = [f(3), f(4), f(5)];
      const lateral = [f(6), f(7), f(8)], half = [f(9), f(10), f(11)];
      const axes = [normal, lateral, cross(normal, lateral)];
      assert.equal(
        b.nodes.getInt32(at + 96 + 4 * side, true),
        b.nodes.getInt32(j * BVH_LAYOUT.node + 48 + 4 * side, true),
        `node ${j} child ${side}: both arrays name the same child`,
      );
      assert.ok(Math.abs(dot(normal, normal) - 1) < 1e-5 && Math.abs(dot(normal, lateral)) < 1e-5);
      const box = (k: number) => b.nodes.getFloat32(j * BVH_LAYOUT.node + 24 * side + 4 * k, true);
      // The oriented pass reads a child's triangles as one run: (first, size) must be exactly it.
      const under = trianglesUnder(b, j, side);
      const first = b.nodes.getUint32(at + 120 + 4 * side, true);
      const size = b.nodes.getUint32(at + 112 + 4 * side, true);
      assert.deepEqual(
        under,
        Array.from({ length: size }, (_, k) => first + k),
        `node ${j} child ${side}: its triangles are the run (first ${first}, size ${size})`,
      );
      for (const t of under) {
        for (let corner = 0; corner < 3; corner++) {
          const p = vertexOf(b, t, corner);
          for (let k = 0; k < 3; k++) {
            assert.ok(box(k) <= p[k] && p[k] <= box(3 + k), `node ${j}: the box holds ${t}`);
          }
          const d = [p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]];
          for (let k = 0; k < 3; k++) {
            const along = Math.abs(dot(d, axes[k]));
            assert.ok(
              along <= half[k],
              `node ${j} child ${side}: triangle ${t} sticks out along axis ${k} ` +
                `(${along} > ${half[k]})`,
            );
          }
          checked++;
        }
      }
    }
  }
  return checked;
}

Deno.test("mesh layout: every child's boxes hold its triangles (random soups, offset by 1e5 too)", async () => {
  await withSeed((rng) => {
    for (const offset of [0, 1e5]) {
      for (const leafSize of [1, 4]) {
        const checked = checkBoxes(build(triangleSoup(rng, 400, offset), leafSize));
        assert.ok(checked > 3 * 400, `${checked} vertex tests`);
      }
    }
  });
});

Deno.test("mesh layout: the same holds for a mesh built in Morton order (above the SAH's size)", () => {
  const sphere = icosphere(5);
  assert.ok(sphere.triangles.length / 3 > SAH_MAX_TRIANGLES);
  assert.ok(checkBoxes(build(sphere, 4)) > 3 * sphere.triangles.length);
});

Deno.test("mesh layout: every child's boxes hold its triangles (a sphere, where they are oriented)", () => {
  const sphere = icosphere(4);
  const b = build(sphere, 4);
  assert.ok(checkBoxes(b) > 3 * sphere.triangles.length);
  // On a sphere most children are thin along their normal: oriented, not axis-aligned.
  const distanceBase = Math.ceil(b.nodeCount * BVH_LAYOUT.node / 128) * 128;
  let oriented = 0;
  for (let j = 0; j < b.nodeCount; j++) {
    const normalZ = b.nodes.getFloat32(distanceBase + j * BVH_LAYOUT.distanceNode + 20, true);
    const lateralX = b.nodes.getFloat32(distanceBase + j * BVH_LAYOUT.distanceNode + 24, true);
    if (!(normalZ === 1 && lateralX === 1)) oriented++;
  }
  assert.ok(oriented > b.nodeCount / 2, `${oriented} of ${b.nodeCount} first children oriented`);
});
