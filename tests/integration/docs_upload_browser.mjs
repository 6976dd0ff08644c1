// docs_upload_browser.mjs — a file upload through /docs in headless Debian
// Chromium (playwright-core from npm), as a user would: POST /upload ->
// "Try it out", pick a file in the picker Swagger UI shows for a declared
// file (lanes_route_opts.files), "Execute", read the answer. Used by
// test_params.py (UploadInBrowser), which starts the server and judges.
//
//   node docs_upload_browser.mjs BASE_URL FILE
//
// Prints one JSON line with what it saw. Exit 0 when every step ran, 1 when
// a step failed, 3 when playwright-core or Chromium is not installed. Talks to
// BASE_URL only; Chromium's background traffic is switched off by its flags.
import { chromiumSession } from "./chromium.mjs";

const [base, file] = process.argv.slice(2);
if (!base || !file) {
    console.error("usage: node docs_upload_browser.mjs BASE_URL FILE");
    process.exit(2);
}

const browser = chromiumSession();

const out = { steps: [] };
try {
    const ctx = await browser.launch({ viewport: { width: 1280, height: 900 } });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(30000);
    page.on("pageerror", (e) => out.steps.push("pageerror: " + e.message));
    await page.goto(base + "/docs", { waitUntil: "load" });
    await page.waitForSelector(".opblock", { timeout: 30000 });
    out.steps.push("loaded");
    const op = page.locator("#operations-loop-post_upload");
    await op.locator(".opblock-summary").first().click();
    await op.locator("button.try-out__btn").click();
    out.steps.push("try it out");
    const pickers = op.locator("input[type=file]");
    out.file_inputs = await pickers.count();
    await pickers.first().setInputFiles(file);
    out.steps.push("file picked");
    await op.locator("button.execute").click();
    const body = op.locator(".live-responses-table .response-col_description pre").first();
    await body.waitFor({ state: "visible", timeout: 30000 });
    out.response_body = await body.innerText();
    out.response_status = (await op.locator(".live-responses-table .response .response-col_status")
        .first().innerText()).trim();
    out.steps.push("executed");
    console.log(JSON.stringify(out));
    await browser.finish(0);
} catch (e) {
    out.error = String(e && e.message ? e.message : e);
    console.log(JSON.stringify(out));
    await browser.finish(1);
}
