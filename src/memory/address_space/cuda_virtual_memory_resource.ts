/**
 * Device memory through CUDA's virtual memory API: cuMemAddressReserve for address ranges, and
 * for each map cuMemCreate (physical memory), cuMemMap, cuMemSetAccess. The handle is released
 * right after mapping, so the mapping alone keeps the memory alive and cuMemUnmap frees it: no
 * handle table to keep.
 *
 * @module
 */

import {
  type CudaSymbols,
  CUmemAllocationGranularity,
  memAccessDesc,
  memAllocationProp,
} from "../../../ffi/cuda.ts";
import type { Device } from "../../cuda/device.ts";
import { check, cudaDriver } from "../../cuda/driver.ts";
import { listenForPeerAccess, peerAccessorsOf } from "../../cuda/peer_access.ts";
import { GpumemError } from "../../errors.ts";
import { checkDriverAllocation } from "../../cuda/driver_allocation.ts";
import { AddressSpaceResource, checkRangeBytes } from "./address_space_resource.ts";

/** Options for {@linkcode CudaVirtualMemoryResource}. */
export interface CudaVirtualMemoryOptions {
  /** Address space a pool reserves per grown segment (default: the device's memory). */
  defaultRangeBytes?: number;
}

const u64Out = new BigUint64Array(1);

/** The driver entry points of the virtual memory API (optional in the symbol table). */
const VMM_SYMBOLS = [
  "cuMemGetAllocationGranularity",
  "cuMemAddressReserve",
  "cuMemAddressFree",
  "cuMemCreate",
  "cuMemRelease",
  "cuMemMap",
  "cuMemUnmap",
  "cuMemSetAccess",
] as const;

/** Those entry points, known to be present. */
type VmmSymbols = { [Name in typeof VMM_SYMBOLS[number]]: NonNullable<CudaSymbols[Name]> };

/** The driver's VMM entry points, or GpumemError naming why they cannot be used. */
function vmmSymbols(device: Device): VmmSymbols {
  const { symbols } = cudaDriver();
  const missing = VMM_SYMBOLS.filter((name) => symbols[name] === null);
  if (!device.capabilities.virtualMemoryManagement || missing.length > 0) {
    throw new GpumemError(
      `${device.id} does not support CUDA's virtual memory management` +
        (missing.length > 0 ? ` (the driver lacks ${missing.join(", ")})` : ""),
    );
  }
  return symbols as VmmSymbols;
}

/**
 * Device memory mapped into reserved address ranges (the upstream of growable pool segments and
 * of resizable buffers). GpumemError from the constructor where the device lacks VMM support.
 *
 * @example
 * ```ts
 * import { cudaAvailability, CudaVirtualMemoryResource, Device } from "@gpumem/gpumem";
 * if (cudaAvailability().usable && Device.get(0).capabilities.virtualMemoryManagement) {
 *   const vm = new CudaVirtualMemoryResource(Device.get(0));
 *   const range = vm.reserve(512 * vm.granularity); // 1 GiB of addresses, no memory
 *   vm.map(range, vm.granularity); // the first granule becomes device memory
 *   vm.unmap(range, vm.granularity);
 *   vm.release(range, 512 * vm.granularity);
 * }
 * ```
 */
export class CudaVirtualMemoryResource extends AddressSpaceResource {
  /** The CUDA device mapped on. */
  readonly device: Device;
  /** `cuMemMap(cuda:N)`. */
  readonly name: string;
  /** The device's minimum allocation granularity (2 MiB on current GPUs). */
  readonly granularity: number;
  /** Address space a pool reserves per grown segment. */
  readonly defaultRangeBytes: number;
  readonly #vmm: VmmSymbols;
  readonly #prop: Uint8Array<ArrayBuffer>;
  /** One CUmemAccessDesc per device that may reach the memory: this one, then its peers. */
  #access: Uint8Array<ArrayBuffer>;
  #accessCount: bigint;

  /** A resource on `device`; GpumemError when the device or driver lacks the VMM API. */
  constructor(device: Device, options: CudaVirtualMemoryOptions = {}) {
    super();
    checkRangeBytes(options.defaultRangeBytes);
    this.#vmm = vmmSymbols(device);
    this.device = device;
    this.name = `cuMemMap(${device.id})`;
    this.#prop = memAllocationProp(device.handle);
    const peers = peerAccessorsOf(device);
    this.#access = accessDescriptors([device, ...peers]);
    this.#accessCount = BigInt(1 + peers.length);
    // Peers enabled later get access to what is mapped then, and to what is mapped after.
    listenForPeerAccess(this);
    check(
      this.#vmm.cuMemGetAllocationGranularity(
        u64Out,
        this.#prop,
        CUmemAllocationGranularity.MINIMUM,
      ),
      "cuMemGetAllocationGranularity",
    );
    this.granularity = Number(u64Out[0]);
    this.defaultRangeBytes = this.roundUp(options.defaultRangeBytes ?? device.totalMemory);
  }

  /** cuMemAddressReserve; the device stays open while the range exists. */
  protected reserveRange(bytes: number): bigint {
    this.device.activate();
    const result = this.#vmm.cuMemAddressReserve(u64Out, BigInt(bytes), 0n, 0n, 0n);
    checkDriverAllocation(result, "cuMemAddressReserve", this.device, bytes);
    this.device.retainUser();
    return u64Out[0];
  }

  /** cuMemAddressFree. */
  protected releaseRange(address: bigint, bytes: number): void {
    this.device.activate();
    check(this.#vmm.cuMemAddressFree(address, BigInt(bytes)), "cuMemAddressFree");
    this.device.releaseUser();
  }

  /**
   * cuMemCreate, cuMemMap, cuMemRelease (the mapping keeps the memory), cuMemSetAccess;
   * on any failure what was done is undone, so nothing stays mapped or allocated.
   */
  protected mapRange(address: bigint, bytes: number): void {
    this.mapPieces(address, [bytes]);
  }

  /**
   * A cuMemCreate and cuMemMap per piece (each handle released at once: its mapping keeps the
   * memory, and unmapping the piece frees it alone), then one cuMemSetAccess over the whole span;
   * on any failure what was mapped is unmapped.
   */
  protected override mapPieces(address: bigint, pieces: readonly number[]): void {
    const vmm = this.#vmm;
    this.device.activate();
    let mapped = 0n;
    const undo = () => {
      for (let at = 0n, i = 0; at < mapped; at += BigInt(pieces[i++])) {
        check(vmm.cuMemUnmap(address + at, BigInt(pieces[i])), "cuMemUnmap");
      }
    };
    for (const piece of pieces) {
      const size = BigInt(piece);
      const created = vmm.cuMemCreate(u64Out, size, this.#prop, 0n);
      if (created !== 0) {
        undo();
        checkDriverAllocation(created, "cuMemCreate", this.device, piece);
      }
      const handle = u64Out[0];
      const result = vmm.cuMemMap(address + mapped, size, 0n, handle, 0n);
      check(vmm.cuMemRelease(handle), "cuMemRelease");
      if (result !== 0) {
        undo();
        check(result, "cuMemMap");
      }
      mapped += size;
    }
    const access = vmm.cuMemSetAccess(address, mapped, this.#access, this.#accessCount);
    if (access !== 0) {
      undo();
      check(access, "cuMemSetAccess");
    }
  }

  /**
   * Grants `accessor` read and write access to every mapping now (cuMemSetAccess) and to every
   * later one; called when peer access to this device is enabled (Device.enablePeerAccess).
   */
  grantAccess(accessor: Device): void {
    const devices = [this.device, ...peerAccessorsOf(this.device)];
    if (!devices.includes(accessor)) devices.push(accessor);
    const access = accessDescriptors(devices);
    const count = BigInt(devices.length);
    this.device.activate();
    this.forEachMapping((address, bytes) => {
      check(this.#vmm.cuMemSetAccess(address, BigInt(bytes), access, count), "cuMemSetAccess");
    });
    this.#access = access;
    this.#accessCount = count;
  }

  /** cuMemUnmap, which frees the memory (its handle was released at map time). */
  protected unmapRange(address: bigint, bytes: number): void {
    this.device.activate();
    check(this.#vmm.cuMemUnmap(address, BigInt(bytes)), "cuMemUnmap");
  }
}

/** CUmemAccessDesc entries, read and write, for `devices`, back to back. */
function accessDescriptors(devices: readonly Device[]): Uint8Array<ArrayBuffer> {
  const descriptors = new Uint8Array(12 * devices.length);
  devices.forEach((device, i) => descriptors.set(memAccessDesc(device.handle), 12 * i));
  return descriptors;
}
