/**
 * Work that reads or writes a buffer's memory outside the driver's stream order: the native
 * threads of a staged transfer on the cpu device, which no stream event covers. A buffer freed
 * while such work runs gives its memory back only once the work has settled, so the pool cannot
 * hand the bytes to a new owner (or unmap them) under the threads still writing them.
 *
 * @module
 */

/** Per owning buffer: how much work uses its memory, and who waits for none. */
interface Holds {
  active: number;
  idle: Promise<void>;
  wake: () => void;
}

const holds = new WeakMap<object, Holds>();

/**
 * Marks `owner`'s memory as used by `work` until it settles (resolved or rejected). Register it
 * before anything awaits `work`: the hold is then released before their continuations run.
 */
export function holdDuring(owner: object, work: Promise<unknown>): void {
  let entry = holds.get(owner);
  if (entry === undefined) {
    let wake = () => {};
    const idle = new Promise<void>((resolve) => (wake = resolve));
    entry = { active: 0, idle, wake };
    holds.set(owner, entry);
  }
  const held = entry;
  held.active++;
  const release = () => {
    if (--held.active > 0) return;
    holds.delete(owner);
    held.wake();
  };
  work.then(release, release);
}

/** Resolves once no work uses `owner`'s memory; undefined when none does now. */
export function workUsing(owner: object): Promise<void> | undefined {
  return holds.get(owner)?.idle;
}
