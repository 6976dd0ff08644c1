// chromium.mjs — the headless Debian Chromium that the browser tests here
// drive (docs_browser, docs_upload_browser, sse_browser, ws_browser), through
// playwright-core from npm (scripts/deps.sh installs both). One place for
// finding it, its flags and its throw-away profile.
//
//   const browser = chromiumSession();        // exits 3 when either is missing
//   try { const ctx = await browser.launch(); ...; await browser.finish(0); }
//   catch (e) { ...; await browser.finish(1); }
import { createRequire } from "node:module";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const modules = process.env.LANES_NODE_MODULES || "/usr/local/lib/lanes-test/node_modules";
const chromiumPath = process.env.LANES_CHROMIUM || "/usr/bin/chromium";

// Exit 3 with {"missing": why} tells the Python side to skip, not fail.
export function chromiumSession() {
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
    let ctx = null;
    return {
        // Chromium's background traffic is switched off: the tests talk to
        // their own servers only. extra: more launch options (viewport).
        async launch(extra = {}) {
            ctx = await chromium.launchPersistentContext(profile, {
                executablePath: chromiumPath,
                headless: true,
                args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                       "--disable-background-networking", "--disable-component-update", "--disable-sync"],
                timeout: 60000,
                ...extra,
            });
            return ctx;
        },
        // Closes the browser (if it started), removes the profile, exits.
        async finish(code) {
            if (ctx)
                await ctx.close().catch(() => {});
            rmSync(profile, { recursive: true, force: true });
            process.exit(code);
        },
    };
}
