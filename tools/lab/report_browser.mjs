// report_browser.mjs — opens lanes-lab's index.html in headless Debian
// Chromium through playwright-core (npm) and reports what a reader would get:
// every chart drawn, nothing fetched from the network, the page printable.
// Used by tests/integration/test_lab.py; also makes docs/lab-report.png.
// LANES_LAB_SHOT_SELECTOR=css: screenshot only that element (docs/lab-grid.png).
//
//   node report_browser.mjs INDEX.html SCREENSHOT.png [PRINT.pdf]
//
// Prints one JSON line. Exit 0 when every step ran (the caller judges the
// content), 1 when a step failed, 3 when playwright-core or Chromium is
// missing. Any request that is not file:// is blocked and listed.
import { createRequire } from "node:module";
import { mkdtempSync, rmSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.LANES_NODE_MODULES || "/usr/local/lib/lanes-test/node_modules";
const chromiumPath = process.env.LANES_CHROMIUM || "/usr/bin/chromium";
const [index, shot, pdf] = process.argv.slice(2);
if (!index || !shot) {
    console.error("usage: node report_browser.mjs INDEX.html SCREENSHOT.png [PRINT.pdf]");
    process.exit(2);
}

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

const out = { network: [], errors: [] };
const profile = mkdtempSync(join(tmpdir(), "lanes-lab-chromium-"));
let ctx;
try {
    ctx = await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        viewport: { width: 1280, height: 900 },
        timeout: 60000,
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(30000);
    // Self-contained means: nothing but the file itself is ever requested.
    await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file://")) return route.continue();
        out.network.push(url);
        return route.abort();
    });
    page.on("pageerror", (e) => out.errors.push(e.message));
    await page.goto(pathToFileURL(resolve(index)).href, { waitUntil: "load" });
    out.title = await page.title();
    Object.assign(out, await page.evaluate(() => {
        const svgs = [...document.querySelectorAll("svg")];
        const drawn = svgs.filter((s) => {
            const r = s.getBoundingClientRect();
            return r.width > 100 && r.height > 40 && s.querySelectorAll("rect,path").length > 0;
        });
        return {
            sections: [...document.querySelectorAll("section")].map((s) => ({
                id: s.id,
                svgs: s.querySelectorAll("svg").length,
                tables: s.querySelectorAll("table").length,
            })),
            // The opening grid: where it sits, its cells, and whether every
            // cell's link lands on a chart (or section) that is on the page.
            grid: (() => {
                const g = document.querySelector("table.grid");
                if (!g) return null;
                const links = [...g.querySelectorAll("a[href^='#']")];
                const first = document.querySelector("section");
                const r = g.getBoundingClientRect();
                return {
                    rows: g.querySelectorAll("tr").length - 2,
                    cells: g.querySelectorAll("td.good,td.badc,td.na").length,
                    links: links.length,
                    dangling: links.map((a) => a.getAttribute("href").slice(1))
                        .filter((id) => !document.getElementById(id)),
                    link_targets_drawn: links.filter((a) => {
                        const t = document.getElementById(a.getAttribute("href").slice(1));
                        return t && t.getBoundingClientRect().height > 20;
                    }).length,
                    before_sections: !!first && r.bottom <= first.getBoundingClientRect().top,
                    top: r.top + window.scrollY,
                };
            })(),
            svgs: svgs.length,
            svgs_drawn: drawn.length,
            scripts: document.querySelectorAll("script").length,
            height: document.documentElement.scrollHeight,
        };
    }));
    // LANES_LAB_SHOT_HEIGHT: only the top of the page (docs/lab-report.png).
    const top = parseInt(process.env.LANES_LAB_SHOT_HEIGHT || "0", 10);
    const sel = process.env.LANES_LAB_SHOT_SELECTOR;
    if (sel) {
        await page.locator(sel).first().screenshot({ path: shot });
    } else {
        await page.screenshot(top > 0
            ? { path: shot, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: top } }
            : { path: shot, fullPage: true });
    }
    out.screenshot_bytes = statSync(shot).size;

    // Printed: A4 portrait, print stylesheet. Nothing may stick out sideways.
    await page.setViewportSize({ width: 794, height: 1123 });
    await page.emulateMedia({ media: "print" });
    out.print = await page.evaluate(() => {
        const doc = document.documentElement;
        const wide = [...document.querySelectorAll("table, svg")]
            .filter((e) => e.getBoundingClientRect().right > doc.clientWidth + 2)
            .map((e) => e.tagName + (e.closest("section") ? "#" + e.closest("section").id : ""));
        return { scroll_width: doc.scrollWidth, client_width: doc.clientWidth, too_wide: wide };
    });
    if (pdf) {
        await page.pdf({ path: pdf, format: "A4", printBackground: true,
                         margin: { top: "12mm", bottom: "12mm", left: "10mm", right: "10mm" } });
        out.pdf_bytes = statSync(pdf).size;
    }
    console.log(JSON.stringify(out));
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
    process.exit(0);
} catch (e) {
    out.failed = String(e && e.stack || e);
    console.log(JSON.stringify(out));
    if (ctx) await ctx.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    process.exit(1);
}
