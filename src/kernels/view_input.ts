/**
 * The check every kernel entry makes of a typed device view it is given: of an accepted element
 * kind, on the call's device, not freed.
 *
 * @module
 */

import { TypedDeviceView } from "../buffers/typed_device_view.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { HostArray } from "../validate.ts";

/**
 * `value` as a typed device view of one of `types` on `device` (else InvalidArgumentError naming
 * `argument` and `kinds`; DisposedError once freed), or null when it is no typed device view.
 */
export function deviceViewOf<T extends HostArray>(
  value: unknown,
  argument: string,
  device: MemoryDevice,
  types: readonly unknown[],
  kinds: string,
): TypedDeviceView<T> | null {
  if (!(value instanceof TypedDeviceView)) return null;
  if (!types.includes(value.type)) {
    throw new InvalidArgumentError(argument, `a TypedDeviceView of ${kinds}`, value.type?.name);
  }
  if (value.bytes.device !== device) {
    throw new InvalidArgumentError(
      argument,
      `device memory of ${device.id}`,
      value.bytes.device.id,
    );
  }
  value.ptr; // throws DisposedError once freed
  return value as TypedDeviceView<T>;
}
