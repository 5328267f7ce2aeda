/**
 * What DeviceBuffer.allocate takes: its options, and the resource they name (checked against
 * its device and stream), or the device's default pool.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import { defaultResource } from "../memory/default_resources.ts";
import { checkBacked, type MemoryResource } from "../memory/resource.ts";
import { checkDevice, checkOptions } from "../validate.ts";

/** Options for {@linkcode DeviceBuffer.allocate}. */
export interface AllocateOptions {
  /** The device (default: the resource's device, else {@linkcode defaultDevice}). */
  device?: MemoryDevice;
  /** The resource to allocate from (default: the device's default resource). */
  resource?: MemoryResource;
  /** The stream to order the allocation and its free on (stream-ordered resources). */
  stream?: Stream;
  /** A name for reports and leak messages, e.g. "bvh.nodes". */
  label?: string;
}

/** The resource `options` name (checked against its device and stream), or the default one. */
export function resolveResource(options: AllocateOptions): MemoryResource {
  checkOptions(options);
  const { label, stream } = options;
  if (label !== undefined && typeof label !== "string") {
    throw new InvalidArgumentError("label", "a string", label);
  }
  const given = options.resource;
  if (given !== undefined) checkBacked(given, "resource");
  const device = options.device !== undefined
    ? checkDevice(options.device)
    : given?.device ?? defaultDevice();
  const resource = given ?? defaultResource(device);
  if (resource.device !== device) {
    throw new InvalidArgumentError("resource", `a resource on ${device.id}`, resource.name);
  }
  if (stream !== undefined && stream.device !== device) {
    throw new InvalidArgumentError("stream", `a Stream on ${device.id}`, stream.toString());
  }
  return resource;
}
