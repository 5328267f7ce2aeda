/** Byte-exact comparison that names the first difference (deepEqual's diff of megabytes is unusable). */

import assert from "node:assert/strict";

/** Asserts `actual` holds exactly the bytes of `expected`; else names the first differing byte. */
export function assertSameBytes(
  actual: ArrayBufferView,
  expected: ArrayBufferView,
  what = "bytes",
): void {
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  assert.equal(a.length, b.length, `${what}: ${a.length} bytes, expected ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      assert.fail(`${what}: byte ${i} of ${a.length} is ${a[i]}, expected ${b[i]}`);
    }
  }
}
