// Ghost text in the real VS Code (code-server in headless Chromium): open a Markdown file whose
// text uses a made-up name, type the name's first letters at its end, wait for the inline
// suggestion (ghost text), keep a screenshot, accept it with Tab and save with Ctrl+S.
// Input: NEXTWORD_VSCODE_TEST, a JSON object {url, folder, fileName, typed, chromium,
// screenshots: {ghost, failure}, timeoutMs}. Output: one line `RESULT {json}` on stdout; the
// Python test (tests/test_editor_vscode.py) checks it and the file on disk.
import { chromium } from "playwright-core";

const config = JSON.parse(process.env.NEXTWORD_VSCODE_TEST ?? "{}");
const timeout = config.timeoutMs ?? 120000;
const GHOST = ".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text";

function log(message) {
  console.log(`[vscode-test] ${message}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  const result = {};
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    page.on("pageerror", (error) => log(`page error: ${error.message}`));
    await page.goto(`${config.url}/?folder=${encodeURIComponent(config.folder)}`);
    await page.waitForSelector(".monaco-workbench", { timeout });
    const fileRow = page.locator(".explorer-folders-view .monaco-list-row", {
      hasText: config.fileName,
    });
    await fileRow.first().click({ timeout });
    const editor = page.locator(".monaco-editor .view-lines").first();
    await editor.waitFor({ timeout });
    await page.waitForSelector(`.tab.active[aria-label*="${config.fileName}"]`, { timeout });
    await editor.click();
    await page.keyboard.press("Control+End");
    await page.waitForSelector(".statusbar-item:has-text('nextword') .codicon-check", {
      timeout,
    });
    log("status bar: nextword ready");
    await page.keyboard.type(config.typed, { delay: 80 });
    await page.waitForSelector(GHOST, { timeout });
    await page.waitForTimeout(500); // let the ghost text settle before reading it
    result.ghost = (
      await page.locator(GHOST).evaluateAll((nodes) => nodes.map((node) => node.textContent))
    )
      .join("")
      .replace(/\u00a0/g, " ");
    log(`ghost text after "${config.typed}": "${result.ghost}"`);
    await page.screenshot({ path: config.screenshots.ghost });

    await page.keyboard.press("Tab");
    await page.waitForSelector(GHOST, { state: "detached", timeout });
    log("accepted with Tab");
    await page.keyboard.press("Control+S");
    await page.waitForSelector(".tab.active.dirty", { state: "detached", timeout });
    log("saved with Ctrl+S");
    result.ok = true;
  } catch (error) {
    await page.screenshot({ path: config.screenshots.failure }).catch(() => undefined);
    log(`failure screenshot: ${config.screenshots.failure}`);
    throw error;
  } finally {
    await browser.close();
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main().catch((error) => {
  console.error(`[vscode-test] FAIL: ${error.stack ?? error}`);
  process.exit(1);
});
