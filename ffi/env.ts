/**
 * Reading gpumem's environment variables without demanding `--allow-env`.
 *
 * A program run with `--allow-ffi` alone must still work: a variable whose read permission is not
 * granted reads as unset instead of throwing (and never prompts).
 *
 * @module
 */

/** Returns the variable's value, or undefined when it is unset or not readable. */
export function readEnv(name: string): string | undefined {
  const status = Deno.permissions.querySync({ name: "env", variable: name });
  if (status.state !== "granted") return undefined;
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}
