/**
 * Drives a headless Chromium through the DevTools protocol over its WebSocket (Deno's built-in
 * WebSocket; no npm dependency): open a page, evaluate script, move the mouse, take screenshots,
 * and collect console errors and uncaught exceptions. Used by the viewer's browser tests and the
 * render benchmark.
 *
 * @module
 */

/** The Chromium binary: $CHROMIUM, else the first of the usual names on PATH, else null. */
export async function findChromium(): Promise<string | null> {
  const candidates = [Deno.env.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    .filter((name): name is string => name !== undefined && name !== "");
  for (const name of candidates) {
    try {
      const { success } = await new Deno.Command(name, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (success) return name;
    } catch {
      // not installed, or not permitted: try the next
    }
  }
  return null;
}

/** One page of a headless browser. */
export class BrowserPage {
  readonly #process: Deno.ChildProcess;
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #profile: string;
  #next = 1;
  /** Console errors and uncaught exceptions seen so far. */
  readonly errors: string[] = [];

  private constructor(process: Deno.ChildProcess, socket: WebSocket, profile: string) {
    this.#process = process;
    this.#socket = socket;
    this.#profile = profile;
    socket.onmessage = (event) => this.#receive(JSON.parse(event.data));
  }

  /** Starts `chromium` headless with a fresh profile under `scratch` and opens a blank page. */
  static async launch(
    chromium: string,
    scratch: string,
    size = { width: 1400, height: 1000 },
  ): Promise<BrowserPage> {
    const profile = await Deno.makeTempDir({ dir: scratch, prefix: "chromium-" });
    const process = new Deno.Command(chromium, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage", // containers give /dev/shm little room
        "--no-first-run",
        "--no-default-browser-check",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        `--window-size=${size.width},${size.height}`,
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const port = await devToolsPort(process.stderr);
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((target) => target.type === "page");
    if (page === undefined) throw new Error("chromium opened no page");
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("could not reach chromium's DevTools socket"));
    });
    const browser = new BrowserPage(process, socket, profile);
    await browser.send("Page.enable");
    await browser.send("Runtime.enable");
    await browser.send("Log.enable");
    return browser;
  }

  /** Sends one DevTools command and waits for its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    this.#socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  #receive(message: Record<string, unknown>): void {
    if (typeof message.id === "number") {
      const waiting = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      const error = message.error as { message: string } | undefined;
      if (error !== undefined) waiting?.reject(new Error(error.message));
      else waiting?.resolve(message.result);
      return;
    }
    // deno-lint-ignore no-explicit-any
    const params = message.params as Record<string, any>;
    if (message.method === "Runtime.exceptionThrown") {
      this.errors.push(
        `exception: ${
          params.exceptionDetails?.exception?.description ?? params.exceptionDetails?.text
        }`,
      );
    } else if (message.method === "Runtime.consoleAPICalled" && params.type === "error") {
      this.errors.push(
        `console.error: ${
          params.args?.map((a: { value?: unknown; description?: string }) =>
            a.value ?? a.description
          ).join(" ")
        }`,
      );
    } else if (message.method === "Log.entryAdded" && params.entry?.level === "error") {
      this.errors.push(`log: ${params.entry.text}`);
    }
  }

  /** Opens `url` and waits for its load event. */
  async open(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const previous = this.#socket.onmessage!;
      this.#socket.onmessage = (event) => {
        previous.call(this.#socket, event);
        if (JSON.parse(event.data).method === "Page.loadEventFired") {
          this.#socket.onmessage = previous;
          resolve();
        }
      };
    });
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates `expression` in the page (awaiting a promise it returns); returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (result.exceptionDetails !== undefined) {
      throw new Error(
        result.exceptionDetails.exception?.description ?? result.exceptionDetails.text,
      );
    }
    return result.result.value;
  }

  /** Moves the mouse to (x, y) in CSS pixels. */
  async mouseMove(x: number, y: number): Promise<void> {
    await this.send("Input.dispatchMouseEvent", { type: "mouseMoved", x, y });
  }

  /** A PNG screenshot of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" }) as {
      data: string;
    };
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    for (const { reject } of this.#pending.values()) reject(new Error("browser closed"));
    this.#pending.clear();
    this.#socket.close();
    try {
      this.#process.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#process.status;
    await this.#process.stderr.cancel().catch(() => {});
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** Reads chromium's stderr until it prints the DevTools port. */
async function devToolsPort(stderr: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => reader.cancel(), 30_000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited before DevTools started:\n${text}`);
      text += value;
      const match = text.match(/DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
      if (match !== null) {
        // Keep draining stderr so chromium never blocks on a full pipe.
        (async () => {
          try {
            while (!(await reader.read()).done) { /* drop */ }
          } catch { /* closed */ }
        })();
        return Number(match[1]);
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}
