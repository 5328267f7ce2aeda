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
