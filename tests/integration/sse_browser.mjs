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
import { chromiumSession } from "./chromium.mjs";

const [base, path, wantArg] = process.argv.slice(2);
if (!base || !path || !wantArg) {
    console.error("usage: node sse_browser.mjs BASE_URL PATH WANT");
    process.exit(2);
}
const want = parseInt(wantArg, 10);

const browser = chromiumSession();

try {
    const ctx = await browser.launch();
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
    await browser.finish(0);
} catch (e) {
    console.log(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
    await browser.finish(1);
}
