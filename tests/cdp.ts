/**
 * A minimal Chrome DevTools Protocol client for the browser test: start headless Chromium with WebGPU on a
 * software Vulkan adapter, open a page, evaluate expressions, take a screenshot.
 */
export interface Browser {
  evaluate(expression: string): Promise<unknown>;
  navigate(url: string): Promise<void>;
  screenshot(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Chromium's path, or null when it is not installed. */
export async function findChromium(): Promise<string | null> {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      await Deno.stat(p);
      return p;
    } catch {
      continue;
    }
  }
  return null;
}

export async function launch(chromium: string, port = 9333): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "blendct-chromium-" });
  const child = new Deno.Command(chromium, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--enable-features=Vulkan,WebGPUService",
      "--use-angle=vulkan",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      `--remote-debugging-port=${port}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let targets: { type: string; webSocketDebuggerUrl: string }[] = [];
  for (let i = 0; i < 100 && !targets.some((t) => t.type === "page"); i++) {
    await new Promise((r) => setTimeout(r, 200));
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    } catch {
      targets = [];
    }
  }
  const page = targets.find((t) => t.type === "page");
  if (!page) throw new Error("Chromium did not open a debugging port");
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  let id = 0;
  const pending = new Map<number, (v: { result?: Record<string, unknown>; error?: unknown }) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const n = ++id;
      pending.set(n, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result ?? {})));
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await send("Page.enable");
  return {
    async evaluate(expression) {
      const r = await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
      return (r.result as { value?: unknown })?.value;
    },
    async navigate(url) {
      await send("Page.navigate", { url });
    },
    async screenshot() {
      const r = await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true });
      return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
    },
    async close() {
      ws.close();
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
