/** Runs `body`, asserts it throws an instance of `type`, and returns the error for more checks. */
export function expectError<T extends Error>(
  body: () => unknown,
  type: new (...args: never[]) => T,
): T {
  try {
    body();
  } catch (error) {
    if (error instanceof type) return error;
    throw new Error(`expected ${type.name}, got ${error}`, { cause: error });
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}
