/** Fresh random test data: every run draws new inputs. */

/** `n` random bytes (crypto.getRandomValues fills at most 64 KiB a call). */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let start = 0; start < n; start += 65536) {
    crypto.getRandomValues(bytes.subarray(start, Math.min(n, start + 65536)));
  }
  return bytes;
}

/** `n` random float32 values in [-1000, 1000). */
export function randomFloats(n: number): Float32Array<ArrayBuffer> {
  return Float32Array.from({ length: n }, () => (Math.random() - 0.5) * 2000);
}
