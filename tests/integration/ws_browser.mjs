// ws_browser.mjs — WebSockets in headless Debian Chromium, driven through
// playwright-core as docs_browser.mjs does: two pages of examples/chat (a line
// typed in one must appear in the other), and the browser's own WebSocket
// against the demo's /ws/echo (text and binary) and /ws/echo/deflate
// (permessage-deflate negotiated, echoes intact). Used by test_ws_browser.py.
//
//   node ws_browser.mjs CHAT_BASE_URL DEMO_BASE_URL
//
// Prints one JSON line with what it saw. Exit 0 when every step ran (the
// Python side judges the content), 1 when a step failed, 3 when playwright-core
// or Chromium is not installed. Talks to the two base URLs only.
import { chromiumSession } from "./chromium.mjs";

const [chat, demo] = process.argv.slice(2);
if (!chat || !demo) {
    console.error("usage: node ws_browser.mjs CHAT_BASE_URL DEMO_BASE_URL");
    process.exit(2);
}

const browser = chromiumSession();

const out = { steps: [] };

async function say(page, text) {
    await page.fill("#say", text);
    await page.press("#say", "Enter");
}

async function waitLine(page, text) {
    await page.waitForFunction((t) => [...document.querySelectorAll("#log .msg")].some((d) => d.textContent === t),
                               text, { timeout: 15000 });
}

try {
    const ctx = await browser.launch();
    const a = ctx.pages()[0] || await ctx.newPage();
    const b = await ctx.newPage();
    for (const p of [a, b]) {
        p.setDefaultTimeout(30000);
        p.on("pageerror", (e) => out.steps.push("pageerror: " + e.message));
    }
    await a.goto(chat + "/", { waitUntil: "load" });
    await b.goto(chat + "/", { waitUntil: "load" });
    await a.waitForFunction(() => document.getElementById("status").textContent === "connected");
    await b.waitForFunction(() => document.getElementById("status").textContent === "connected");
    out.steps.push("both connected");
    const fromA = "hello from A " + Math.random().toString(36).slice(2);
    await say(a, fromA);
    await waitLine(b, fromA);
    out.b_saw = fromA;
    const fromB = "and back from B ✓ " + Math.random().toString(36).slice(2);
    await say(b, fromB);
    await waitLine(a, fromB);
    out.a_saw = fromB;
    out.a_lines = await a.locator("#log .msg").allInnerTexts();
    out.b_lines = await b.locator("#log .msg").allInnerTexts();
    out.steps.push("chat");

    // The browser's WebSocket against the demo's echo (another origin: allowed).
    const c = await ctx.newPage();
    await c.goto(demo + "/openapi.json");
    out.echo = await c.evaluate(async (url) => {
        const ws = new WebSocket(url);
        ws.binaryType = "arraybuffer";
        const got = [];
        await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error("ws error")); });
        const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
        let p = next();
        ws.send("echo ✓");
        got.push(await p);
        p = next();
        ws.send(new Uint8Array([0, 1, 2, 255]).buffer);
        got.push(Array.from(new Uint8Array(await p)));
        const closed = new Promise((ok) => { ws.onclose = (e) => ok(e.code); });
        ws.close(1000);
        got.push(await closed);
        return got;
    }, demo.replace("http://", "ws://") + "/ws/echo");
    out.steps.push("echo");

    // permessage-deflate: Chromium offers it; /ws/echo/deflate accepts it.
    out.deflate = await c.evaluate(async (url) => {
        const ws = new WebSocket(url);
        await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error("ws error")); });
        const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
        const text = Array.from({ length: 60 }, (_, i) => "line " + i + " of compressible text ✓").join("\n");
        const got = { extensions: ws.extensions, same: [] };
        for (const m of [text, "short", text + "!"]) {
            const p = next();
            ws.send(m);
            got.same.push((await p) === m);
        }
        ws.close(1000);
        return got;
    }, demo.replace("http://", "ws://") + "/ws/echo/deflate");
    out.steps.push("deflate");
    console.log(JSON.stringify(out));
    await browser.finish(0);
} catch (e) {
    out.error = String(e && e.message ? e.message : e);
    console.log(JSON.stringify(out));
    await browser.finish(1);
}
