/** Streams and events on the cpu device: same API, work done on return, closed use is an error. */

import assert from "node:assert/strict";
import { cpuDevice, DisposedError, Event, GpumemError, Stream } from "../mod.ts";

Deno.test("cpu streams are always done and close idempotently", async () => {
  const stream = new Stream(cpuDevice);
  assert.equal(stream.handle, null);
  assert.ok(stream.query());
  stream.synchronize();
  await stream.synchronizeAsync();
  stream.close();
  stream.close();
  assert.ok(stream.closed);
  assert.throws(() => stream.handle, DisposedError);
  assert.throws(() => stream.synchronize(), DisposedError);
  await assert.rejects(() => stream.synchronizeAsync(), DisposedError);
});

Deno.test("cpu events time host work between two records", async () => {
  using stream = new Stream(cpuDevice);
  using start = new Event(cpuDevice);
  using end = new Event(cpuDevice);
  start.record(stream);
  const until = performance.now() + 5;
  while (performance.now() < until) { /* spin 5 ms */ }
  end.record(stream);
  assert.ok(end.query());
  end.synchronize();
  await end.synchronizeAsync();
  stream.waitEvent(end);
  const ms = end.elapsedSince(start);
  assert.ok(ms >= 5 && ms < 1000, `elapsed ${ms} ms`);
});

Deno.test("events without timing refuse elapsedSince; closed events refuse use", () => {
  const a = new Event(cpuDevice, { timing: false });
  const b = new Event(cpuDevice, { timing: false });
  a.record();
  b.record();
  assert.throws(() => b.elapsedSince(a), GpumemError);
  a.close();
  a.close();
  assert.throws(() => a.record(), DisposedError);
  b.close();
});
