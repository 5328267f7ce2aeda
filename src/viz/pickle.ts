/**
 * A reader for the subset of Python's pickle format that plain data uses (dicts, lists, tuples,
 * sets, str, bytes, int, float, bool, None; protocols 2 to 5): what
 * `torch.cuda.memory._dump_snapshot` writes. It builds no objects: a pickle that names a class or
 * calls a function (GLOBAL, REDUCE, ...) is refused, so reading an untrusted file runs nothing.
 *
 * @module
 */

import { GpumemError } from "../errors.ts";

/** A value read from a pickle. Python ints beyond 2^53 come back as bigint. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | { [key: string]: PickleValue };

/** Whether `bytes` starts as a pickle of protocol 2 or later (PROTO opcode). */
export function isPickle(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
}

const MARK = Symbol("mark");
type Slot = PickleValue | typeof MARK;

/** Dicts whose keys are all strings become plain objects; others stay Maps. */
function finishDict(entries: [PickleValue, PickleValue][]): PickleValue {
  if (entries.every(([key]) => typeof key === "string")) {
    const object: { [key: string]: PickleValue } = {};
    for (const [key, value] of entries) object[key as string] = value;
    return object;
  }
  return new Map(entries);
}

/** Reads one pickled value; GpumemError for a truncated file or an opcode outside the subset. */
export function readPickle(bytes: Uint8Array): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8", { fatal: true });
  const stack: Slot[] = [];
  const memo = new Map<number, PickleValue>();
  // Dicts under construction keep their entries here until done (keys may be unhashable in JS).
  const building = new Map<object, [PickleValue, PickleValue][]>();
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new GpumemError("the pickle ends early");
  };
  const u8 = () => (need(1), bytes[at++]);
  const u16 = () => (need(2), at += 2, view.getUint16(at - 2, true));
  const u32 = () => (need(4), at += 4, view.getUint32(at - 4, true));
  const u64 = () => {
    need(8);
    at += 8;
    const value = view.getBigUint64(at - 8, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new GpumemError("a pickle item too large");
    return Number(value);
  };
  const take = (n: number) => (need(n), at += n, bytes.subarray(at - n, at));
  const popMark = (): PickleValue[] => {
    const items: PickleValue[] = [];
    for (;;) {
      if (stack.length === 0) throw new GpumemError("the pickle has no MARK where one belongs");
      const item = stack.pop()!;
      if (item === MARK) return items.reverse();
      items.push(item);
    }
  };
  const pop = (): PickleValue => {
    const item = stack.pop();
    if (item === undefined || item === MARK) throw new GpumemError("the pickle's stack is empty");
    return item;
  };
  const top = (): PickleValue => {
    const item = stack[stack.length - 1];
    if (item === undefined || item === MARK) throw new GpumemError("the pickle's stack is empty");
    return item;
  };
  const entriesOf = (dict: PickleValue) => {
    const entries = typeof dict === "object" && dict !== null ? building.get(dict) : undefined;
    if (entries === undefined) throw new GpumemError("the pickle sets items on what is no dict");
    return entries;
  };
  const longFrom = (raw: Uint8Array): number | bigint => {
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
    if (raw.length > 0 && raw[raw.length - 1] & 0x80) value -= 1n << BigInt(8 * raw.length);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        const result = pop();
        return resolve(result);
      }
      case 0x7d: { // EMPTY_DICT
        const dict = {};
        building.set(dict, []);
        stack.push(dict as PickleValue);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x73: { // SETITEM
        const value = pop(), key = pop();
        entriesOf(top()).push([key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const entries = entriesOf(top());
        for (let i = 0; i + 1 < items.length; i += 2) entries.push([items[i], items[i + 1]]);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        const list = top();
        if (!Array.isArray(list)) throw new GpumemError("the pickle appends to what is no list");
        list.push(value);
        break;
      }
      case 0x65:
      case 0x90: { // APPENDS, ADDITEMS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw new GpumemError("the pickle appends to what is no list");
        list.push(...items);
        break;
      }
      case 0x74:
      case 0x91: // TUPLE, FROZENSET
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(take(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(text.decode(take(u32())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(take(u64())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(at, true));
        at += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longFrom(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(longFrom(take(u32())));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(at, false));
        at += 8;
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x68:
      case 0x6a: { // BINGET, LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) throw new GpumemError(`the pickle refers to memo ${key}, never stored`);
        stack.push(memo.get(key)!);
        break;
      }
      default:
        throw new GpumemError(
          `pickle opcode 0x${op.toString(16)} at byte ${at - 1} is outside the plain-data subset ` +
            "this reader takes (it builds no Python objects)",
        );
    }
  }

  /** Replaces each dict placeholder with its finished object or Map (memo refs share it). */
  function resolve(value: PickleValue): PickleValue {
    const done = new Map<object, PickleValue>();
    const visit = (v: PickleValue): PickleValue => {
      if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
      const seen = done.get(v);
      if (seen !== undefined) return seen;
      if (Array.isArray(v)) {
        done.set(v, v);
        for (let i = 0; i < v.length; i++) v[i] = visit(v[i]);
        return v;
      }
      const entries = building.get(v);
      if (entries === undefined) return v;
      done.set(v, null); // a dict holding itself (a hostile file) reads as holding None
      const finished = finishDict(entries.map(([k, x]) => [visit(k), visit(x)]));
      done.set(v, finished);
      return finished;
    };
    try {
      return visit(value);
    } catch (error) {
      if (error instanceof RangeError) throw new GpumemError("the pickle nests too deep");
      throw error;
    }
  }
}
