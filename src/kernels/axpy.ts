/**
 * `y = a·x + y` on float32 device memory: the kernel library's first entry point, and the smallest
 * real check that the CUDA build shares memory and contexts with gpumem's driver binding.
 *
 * @module
 */

import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import type { Stream } from "../cuda/stream.ts";
import { InvalidArgumentError } from "../errors.ts";
import { checkKernelStatus, kernelLibrary } from "./library.ts";

/**
 * Computes `y[i] = a * x[i] + y[i]` for every element. With a `stream` the work is queued on it
 * (await `stream.synchronizeAsync()` before reading `y`); without one it is done on return.
 *
 * @example
 * ```ts
 * import { axpy, DeviceBuffer } from "@gpumem/gpumem";
 * using x = DeviceBuffer.fromHost(new Float32Array([1, 2, 3]));
 * using y = DeviceBuffer.fromHost(new Float32Array([10, 20, 30]));
 * axpy(2, x.typed(Float32Array), y.typed(Float32Array));
 * console.log(y.typed(Float32Array).copyToHost()); // [12, 24, 36]
 * ```
 */
export function axpy(
  a: number,
  x: TypedDeviceView<Float32Array>,
  y: TypedDeviceView<Float32Array>,
  stream?: Stream,
): void {
  if (typeof a !== "number" || !Number.isFinite(a)) {
    throw new InvalidArgumentError("a", "a finite number", a);
  }
  for (const [name, view] of [["x", x], ["y", y]] as const) {
    if (view?.type !== Float32Array) {
      throw new InvalidArgumentError(name, "a TypedDeviceView<Float32Array>", view);
    }
  }
  if (x.length !== y.length) {
    throw new InvalidArgumentError(
      "x",
      `${y.length} elements (as many as y)`,
      `${x.length} elements`,
    );
  }
  const device = y.bytes.device;
  if (x.bytes.device !== device) {
    throw new InvalidArgumentError("x", `a view on ${device.id}`, x.bytes.device.id);
  }
  if (stream !== undefined && stream.device !== device) {
    throw new InvalidArgumentError("stream", `a Stream on ${device.id}`, stream.toString());
  }
  const xAddress = x.ptr;
  const yAddress = y.ptr;
  const streamHandle = stream?.handle ?? null;
  const library = kernelLibrary(device.kind);
  const status = library.symbols.gm_axpy_f32(
    device.ordinal,
    BigInt(y.length),
    a,
    xAddress,
    yAddress,
    streamHandle,
  );
  checkKernelStatus(library, status, "gm_axpy_f32");
  if (stream === undefined) device.synchronize();
}
