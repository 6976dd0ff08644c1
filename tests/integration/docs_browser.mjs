// docs_browser.mjs — drives /docs in headless Debian Chromium through
// playwright-core (npm), as a user would: the page loads, lists the routes,
// and "Try it out" -> "Execute" on GET / shows the answer. Used by
// test_docs_browser.py, which starts the server and checks what this prints.
//
//   node docs_browser.mjs BASE_URL SCREENSHOT.png [OPERATION [BODY]]
//
// OPERATION: the operation block to try, "<tag>-<operationId>" (default
// "loop-get_root"); BODY: JSON text typed into its request-body box before
// "Execute" (test_notes_browser.py: POST /notes).
//
// Prints one JSON line with what it saw. Exit 0 when every step ran (the
// Python side judges the content), 1 when a step failed, 3 when playwright-core
// or Chromium is not installed. Talks to BASE_URL only; Chromium's own
// background traffic is switched off by its flags.
import { chromiumSession } from "./chromium.mjs";

const [base, shot, opName = "loop-get_root", reqBody] = process.argv.slice(2);
if (!base || !shot) {
    console.error("usage: node docs_browser.mjs BASE_URL SCREENSHOT.png");
    process.exit(2);
}

const browser = chromiumSession();

const out = { steps: [] };
try {
    // A persistent context is how playwright takes a --user-data-dir: a fresh
    // directory per run, so no state leaks between runs.
    const ctx = await browser.launch({ viewport: { width: 1280, height: 900 } });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(30000);
    const failed = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    page.on("pageerror", (e) => out.steps.push("pageerror: " + e.message));

    const resp = await page.goto(base + "/docs", { waitUntil: "load" });
    out.status = resp ? resp.status() : null;
    out.steps.push("loaded");
    await page.waitForSelector(".opblock", { timeout: 30000 });
    out.title = await page.title();
    out.info_title = (await page.locator(".info .title").first().innerText()).trim();
    out.paths = await page.locator(".opblock-summary-path").allInnerTexts();
    out.paths = out.paths.map((s) => s.replace(/\u200b/g, "").trim());   // Swagger UI adds zero-width breaks
    out.tags = await page.locator(".opblock-tag").allInnerTexts();
    out.steps.push("listed");

    // Swagger UI names each operation block "operations-<tag>-<operationId>".
    const op = page.locator("#operations-" + opName);
    await op.locator(".opblock-summary").first().click();
    await op.locator("button.try-out__btn").click();
    out.steps.push("try it out");
    if (reqBody !== undefined) {
        // The request-body box Swagger UI shows for a JSON requestBody,
        // prefilled from the schema; replaced by what the test sends.
        const box = op.locator("textarea.body-param__text");
        await box.waitFor({ state: "visible", timeout: 30000 });
        out.body_prefill = await box.inputValue();
        await box.fill(reqBody);
        out.steps.push("body");
    }
    await op.locator("button.execute").click();
    out.steps.push("execute");
    const body = op.locator(".live-responses-table .response-col_description pre").first();
    await body.waitFor({ state: "visible", timeout: 30000 });
    out.response_body = await body.innerText();
    out.response_status = (await op.locator(".live-responses-table .response .response-col_status")
        .first().innerText()).trim();
    out.failed_requests = failed;
    await page.screenshot({ path: shot, fullPage: true });
    out.steps.push("screenshot");
    console.log(JSON.stringify(out));
    await browser.finish(0);
} catch (e) {
    out.error = String(e && e.message ? e.message : e);
    console.log(JSON.stringify(out));
    await browser.finish(1);
}
