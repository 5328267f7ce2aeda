/**
 * Where a MeshBvh build from host arrays spends its time: the staged uploads, the host checks
 * (CPU library), and the build passes, each timed alone on the kit's meshes (median of 5).
 *
 *   deno run -A bench/build_parts.ts MESH_DIR
 */

import { defaultDevice, DeviceBuffer, MeshBvh } from "../mod.ts";
import { uploadForKernel } from "../src/kernels/kernel_upload.ts";
import { coordinateTriples, indexTriples } from "../src/kernels/mesh_input.ts";
import { validateTriples } from "../src/kernels/mesh_validate.ts";
import { kernelStream } from "../src/kernels/kernel_stream.ts";
import { medianMs } from "./median.ts";

const dir = Deno.args[0];
const device = defaultDevice();
for (const name of ["icosphere_L8", "icosphere_L9"]) {
  const vertices = new Float32Array(Deno.readFileSync(`${dir}/${name}.vertices.f32`).buffer);
  const triangles = new Uint32Array(Deno.readFileSync(`${dir}/${name}.triangles.u32`).buffer);
  using vb = DeviceBuffer.allocate(vertices.byteLength, { device });
  using tb = DeviceBuffer.allocate(triangles.byteLength, { device });
  const up = await medianMs(
    5,
    () =>
      Promise.all([uploadForKernel(vb, vertices), uploadForKernel(tb, triangles)]).then(() => {}),
  );
  const plain = await medianMs(5, () => {
    vb.copyFromHost(vertices);
    tb.copyFromHost(triangles);
    return Promise.resolve();
  });
  const v = coordinateTriples(vertices, "v", device), t = indexTriples(triangles, "t", device);
  const check = await medianMs(5, () => validateTriples(device, v, t, kernelStream(device)));
  const host = await medianMs(
    5,
    async () => (await MeshBvh.build(vertices, triangles, { device })).free(),
  );
  const fromDevice = await medianMs(
    5,
    async () =>
      (await MeshBvh.build(vb.typed(Float32Array), tb.typed(Uint32Array), { device })).free(),
  );
  console.log(
    `${name}: build from host ${host.toFixed(2)} ms, from device ${
      fromDevice.toFixed(2)
    }; staged uploads ${up.toFixed(2)}, plain copies ${plain.toFixed(2)}, host checks ${
      check.toFixed(2)
    }`,
  );
}
