// sse_browser.mjs — a real EventSource in headless Debian Chromium, driven by
// playwright-core (npm) as docs_browser.mjs does: the page opens
// BASE_URL + PATH (an /sse route that ends each connection after a few
// events), the browser reconnects by itself with Last-Event-ID, and the
// events of every connection are collected until WANT of them have arrived.
// Used by test_sse_browser.py, which judges what this prints.
//
//   node sse_browser.mjs BASE_URL PATH WANT
//
// Prints one JSON line: { events: [{id, data}], opens, errors }. Exit 0 when
// it ran (the Python side judges), 1 on a failure, 3 when playwright-core or
// Chromium is not installed. Talks to BASE_URL only.
import { createRequire } from "node:module";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const modules = process.env.LANES_NODE_MODULES || "/usr/local/lib/lanes-test/node_modules";
const chromiumPath = process.env.LANES_CHROMIUM || "/usr/bin/chromium";
const [base, path, wantArg] = process.argv.slice(2);
if (!base || !path || !wantArg) {
    console.error("usage: node sse_browser.mjs BASE_URL PATH WANT");
    process.exit(2);
}
const want = parseInt(wantArg, 10);

let chromium;
try {
    ({ chromium } = createRequire(join(modules, "..", "resolver.cjs"))("playwright-core"));
} catch (e) {
    console.log(JSON.stringify({ missing: "playwright-core: " + (e.message || e) }));
    process.exit(3);
}
if (!existsSync(chromiumPath)) {
    console.log(JSON.stringify({ missing: "chromium: no " + chromiumPath }));
    process.exit(3);
}

const profile = mkdtempSync(join(tmpdir(), "lanes-chromium-"));
let ctx;
try {
    ctx = await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        timeout: 60000,
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    // Same origin as the stream: the page is the server's own GET /.
    await page.goto(base + "/", { waitUntil: "load" });
    const out = await page.evaluate(([p, n]) => new Promise((resolve) => {
        const es = new EventSource(p);
        const events = [];
        let opens = 0, errors = 0;
        const done = (why) => { es.close(); resolve({ events, opens, errors, why }); };
        es.onopen = () => { opens++; };
        es.onerror = () => { errors++; };   // each end of a connection, before the reconnect
        es.addEventListener("tick", (e) => {
            events.push({ id: e.lastEventId, data: e.data });
            if (events.length >= n)
                done("enough");
        });
        setTimeout(() => done("timeout"), 30000);
    }), [path, want]);
    console.log(JSON.stringify(out));
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
    process.exit(0);
} catch (e) {
    console.log(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
    if (ctx)
        await ctx.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    process.exit(1);
}
