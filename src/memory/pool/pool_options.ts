/**
 * A MemoryPool's options, checked before anything is made: its name and whether its segments grow
 * in place (the limit is parsed by the pool itself, against its upstream's memory).
 *
 * @module
 */

import { InvalidArgumentError } from "../../errors.ts";
import { checkBoolean, checkOptions } from "../../validate.ts";
import { isAddressSpaceResource } from "../address_space/address_space_resource.ts";
import { checkMemoryResource, type MemoryResource } from "../resource.ts";

/** Options for {@linkcode MemoryPool}. */
export interface MemoryPoolOptions {
  /** Most bytes the pool may reserve: bytes, "8GiB", or "70%" of the device. Default: none. */
  limit?: number | string;
  /** A name for messages (default: `pool(<upstream name>)`). */
  name?: string;
  /**
   * Grow segments in place (default: true when the upstream is an AddressSpaceResource, the only
   * kind that can). false makes such a pool take whole segments through its allocate().
   */
  expandableSegments?: boolean;
}

/** The name and segment policy of a pool over `upstream`; InvalidArgumentError for bad input. */
export function resolvePoolOptions(
  upstream: MemoryResource,
  options: MemoryPoolOptions,
): { name: string; expandableSegments: boolean } {
  checkMemoryResource(upstream, "upstream");
  checkOptions(options);
  if (options.name !== undefined && typeof options.name !== "string") {
    throw new InvalidArgumentError("options.name", "a string", options.name);
  }
  const canGrow = isAddressSpaceResource(upstream);
  const expandable = options.expandableSegments;
  checkBoolean(expandable, false, "expandableSegments");
  if (expandable === true && !canGrow) {
    throw new InvalidArgumentError(
      "expandableSegments",
      "false for an upstream that is no AddressSpaceResource",
      true,
    );
  }
  return {
    name: options.name ?? `pool(${upstream.name})`,
    expandableSegments: canGrow && expandable !== false,
  };
}
