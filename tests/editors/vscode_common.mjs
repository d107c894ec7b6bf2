// What the code-server tests share: the test's input, the browser, opening the Markdown file
// until nextword is ready, and the outcome protocol (one line `RESULT {json}` on stdout, or a
// failure screenshot and exit code 1). Input: NEXTWORD_VSCODE_TEST, a JSON object with at least
// {url, folder, fileName, chromium, screenshots: {failure}, timeoutMs}.
import { chromium } from "playwright-core";

export const config = JSON.parse(process.env.NEXTWORD_VSCODE_TEST ?? "{}");
export const timeout = config.timeoutMs ?? 120000;

export function log(message) {
  console.log(`[vscode-test] ${message}`);
}

/** Open the workbench on the test folder, open the file from the explorer, put the cursor at
 * its end, and wait until the status bar says nextword is ready. */
export async function openFileWhenReady(page) {
  await page.goto(`${config.url}/?folder=${encodeURIComponent(config.folder)}`);
  await page.waitForSelector(".monaco-workbench", { timeout });
  log("workbench loaded");
  const fileRow = page.locator(".explorer-folders-view .monaco-list-row", {
    hasText: config.fileName,
  });
  await fileRow.first().click({ timeout });
  const editor = page.locator(".monaco-editor .view-lines").first();
  await editor.waitFor({ timeout });
  await page.waitForSelector(`.tab.active[aria-label*="${config.fileName}"]`, { timeout });
  log(`opened ${config.fileName}`);
  await editor.click();
  await page.keyboard.press("Control+End");
  // The status bar item turns to ready once the server has answered initialize; text typed
  // before that would find no completion provider registered yet.
  await page.waitForSelector(".statusbar-item:has-text('nextword') .codicon-check", {
    timeout,
  });
  log("status bar: nextword ready");
}

/** Run `steps(page, result)` in a fresh headless Chromium page and report the outcome. */
export function runTest(steps) {
  run(steps).catch((error) => {
    console.error(`[vscode-test] FAIL: ${error.stack ?? error}`);
    process.exit(1);
  });
}

async function run(steps) {
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
    await steps(page, result);
    result.ok = true;
  } catch (error) {
    if (config.screenshots?.failure) {
      await page.screenshot({ path: config.screenshots.failure }).catch(() => undefined);
      log(`failure screenshot: ${config.screenshots.failure}`);
    }
    throw error;
  } finally {
    await browser.close();
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}
