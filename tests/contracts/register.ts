/** One way to register a contract test: `<suite>: <name>`, ignored with its reason where set. */
export function contractTest(
  suite: string,
  ignore: string | undefined,
  name: string,
  fn: () => void | Promise<void>,
): void {
  Deno.test({
    name: ignore ? `${suite}: ${name} (ignored: ${ignore.split(";")[0]})` : `${suite}: ${name}`,
    ignore: ignore !== undefined,
    fn,
  });
}

/**
 * The `test` of one suite of contracts: each test's body gets what `open()` returns (a device, a
 * setup), called when the test runs, so an ignored suite never opens anything.
 */
export function suiteTests<T>(suite: string, ignore: string | undefined, open: () => T) {
  return (name: string, fn: (opened: T) => void | Promise<void>, why = ignore): void =>
    contractTest(suite, why, name, () => fn(open()));
}
