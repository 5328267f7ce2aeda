/**
 * Who may reach whose memory. cuCtxEnablePeerAccess covers cuMemAlloc'd memory only; memory
 * mapped through the virtual memory API (gpumem's default pools) is reachable from another
 * device only once cuMemSetAccess grants it, mapping by mapping. So enabling peer access is
 * recorded here, and the virtual-memory resources of the owning device grant it on every
 * mapping they hold and make from then on (measured on two NVLink H200s: 38 GB/s for a peer
 * copy without the grant, 395 GB/s with it).
 *
 * @module
 */

import type { Device } from "./device.ts";

/** Something holding mappings on one device that must open them to a new accessor. */
export interface PeerAccessListener {
  /** The device whose memory it maps. */
  readonly device: Device;
  /** Grants `accessor` read and write access to every mapping, now and later. */
  grantAccess(accessor: Device): void;
}

const accessors = new Map<Device, Device[]>();
/** Weakly held: a resource nobody uses any more must not be kept alive by this list. */
const listeners = new Set<WeakRef<PeerAccessListener>>();

/** Devices other than `owner` allowed to reach `owner`'s memory directly. */
export function peerAccessorsOf(owner: Device): readonly Device[] {
  return accessors.get(owner) ?? [];
}

/** Records that `accessor` may reach `owner`'s memory, and tells `owner`'s listeners. */
export function recordPeerAccess(owner: Device, accessor: Device): void {
  const list = accessors.get(owner) ?? [];
  if (list.includes(accessor)) return;
  list.push(accessor);
  accessors.set(owner, list);
  for (const reference of listeners) {
    const listener = reference.deref();
    if (listener === undefined) listeners.delete(reference);
    else if (listener.device === owner) listener.grantAccess(accessor);
  }
}

/** Registers `listener` (held weakly) for accessors recorded from now on. */
export function listenForPeerAccess(listener: PeerAccessListener): void {
  listeners.add(new WeakRef(listener));
}
