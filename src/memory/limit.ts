/**
 * Byte limits written the way people write them: 8589934592, "8GiB", "512 MiB", "1.5GB", "70%".
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Parses a byte limit. A percentage is of `totalBytes` (the device's memory); a number is bytes.
 * Throws InvalidArgumentError for anything else, for negative values and for a percentage when
 * the total is unknown.
 */
export function parseByteLimit(
  value: number | string,
  totalBytes: number,
  argument = "limit",
): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(argument, "a non-negative safe integer of bytes", value);
    }
    return value;
  }
  const match = typeof value === "string"
    ? /^\s*(\d+(?:\.\d+)?)\s*(%|[kmgt]i?b|b)?\s*$/i.exec(value)
    : null;
  if (!match) {
    throw new InvalidArgumentError(
      argument,
      'bytes, or a string like "8GiB", "512 MB" or "70%"',
      value,
    );
  }
  const amount = Number(match[1]);
  const unit = (match[2] ?? "").toLowerCase();
  if (unit === "%") {
    if (amount > 100) {
      throw new InvalidArgumentError(argument, "a percentage of at most 100%", value);
    }
    if (!Number.isFinite(totalBytes)) {
      throw new InvalidArgumentError(
        argument,
        "bytes (the device's total memory is unknown)",
        value,
      );
    }
    return Math.floor((totalBytes * amount) / 100);
  }
  return Math.floor(amount * UNITS[unit]);
}
