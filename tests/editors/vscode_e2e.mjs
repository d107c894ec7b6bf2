// Drives a running code-server (the real VS Code, in headless Chromium) like a person would:
// open a Markdown file from the explorer, type a sentence, wait for the suggest widget, keep a
// screenshot, accept the focused word with Enter, start another word (quick suggestions), save
// with Ctrl+S.
// Input: NEXTWORD_VSCODE_TEST, a JSON object {url, folder, fileName, sentence, letter, chromium,
// missingBundle, missingCommand, screenshots: {suggest, word, saved, noModel, notFound, failure},
// timeoutMs}. Output: one line `RESULT {json}` on stdout;
// the Python test (tests/test_editor_vscode.py) checks it and the file on disk.
import { config, log, openFileWhenReady, runTest, timeout } from "./vscode_common.mjs";

const SUGGEST_ROWS = ".suggest-widget.visible .monaco-list-row";

async function suggestLabels(page) {
  return page.$$eval(SUGGEST_ROWS, (rows) =>
    rows
      .map((row) => ({
        index: Number(row.getAttribute("data-index")),
        label: row.querySelector(".label-name")?.textContent?.trim() ?? "",
        focused: row.classList.contains("focused"),
        // nextword's items are of kind Text; others (Markdown snippets) have their own icons.
        kind: [...(row.querySelector(".suggest-icon")?.classList ?? [])]
          .find((name) => name.startsWith("codicon-symbol-"))
          ?.replace("codicon-symbol-", ""),
      }))
      .sort((a, b) => a.index - b.index),
  );
}

/** Wait until the suggest widget is visible and its rows have stopped changing. */
async function stableSuggestions(page) {
  await page.waitForSelector(SUGGEST_ROWS, { timeout });
  let previous = "";
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const rows = await suggestLabels(page);
    const current = JSON.stringify(rows);
    if (current === previous && rows.length > 0) {
      return rows;
    }
    previous = current;
    await page.waitForTimeout(250);
  }
  return suggestLabels(page);
}

async function statusBarText(page) {
  const item = page.locator(".statusbar-item", { hasText: "nextword" }).first();
  await item.waitFor({ timeout });
  const codicons = await item
    .locator(".codicon")
    .evaluateAll((nodes) =>
      nodes.map(
        (node) =>
          [...node.classList].find((name) => name.startsWith("codicon-")) ?? "",
      ),
    );
  return { text: (await item.innerText()).trim(), icons: codicons };
}

/** Change a text setting in the Settings editor (Ctrl+,), as a user would; then close it. */
async function setSetting(page, key, value, { machine = false } = {}) {
  await page.keyboard.press("Control+Comma");
  await page.waitForSelector(".settings-editor .suggest-input-container", {
    timeout,
  });
  if (machine) {
    // In code-server (a remote window) machine-scoped settings live in the Remote tab only.
    await page
      .locator(".settings-tabs-widget .action-label", { hasText: "Remote" })
      .first()
      .click({ timeout });
    await page.locator(".settings-editor .suggest-input-container").click();
  }
  await page.keyboard.press("Control+A");
  await page.keyboard.type(key, { delay: 20 });
  const input = page.locator(`.setting-item-contents[data-key="${key}"] input`);
  await input.fill(value, { timeout });
  await input.press("Enter");
  await page.waitForTimeout(1000);
  await page.keyboard.press("Escape");
}

/** Wait for the status bar icon and a notification toast containing `text`; return both texts. */
async function failureShown(page, icon, text) {
  await page.waitForSelector(
    `.statusbar-item:has-text('nextword') .codicon-${icon}`,
    { timeout },
  );
  const toast = page.locator(".notification-toast", { hasText: text }).first();
  await toast.waitFor({ timeout });
  await page.waitForTimeout(500); // let the toast finish sliding in before a screenshot
  return {
    status: await statusBarText(page),
    message: (await toast.innerText()).trim(),
  };
}

runTest(async (page, result) => {
  await openFileWhenReady(page);
  await page.keyboard.type(config.sentence, { delay: 60 });
  const rows = await stableSuggestions(page);
  result.labels = rows.map((row) => row.label);
  result.kinds = rows.map((row) => row.kind);
  result.focused = rows.find((row) => row.focused)?.label ?? null;
  log(
    `suggest widget: ${result.labels.join(", ")} (focused: ${result.focused})`,
  );
  result.status = await statusBarText(page);
  await page.screenshot({ path: config.screenshots.suggest });
  log(`screenshot: ${config.screenshots.suggest}`);

  await page.keyboard.press("Enter");
  await page.waitForSelector(SUGGEST_ROWS, { state: "hidden", timeout });
  log("accepted with Enter");

  // Quick suggestions (on for Markdown through the extension's configurationDefaults): after a
  // space and Escape the widget is closed; typing a letter must open it again by itself.
  await page.keyboard.type(" ", { delay: 60 });
  await page.waitForSelector(SUGGEST_ROWS, { timeout });
  await page.keyboard.press("Escape");
  await page.waitForSelector(SUGGEST_ROWS, { state: "hidden", timeout });
  await page.keyboard.type(config.letter, { delay: 60 });
  const wordRows = await stableSuggestions(page);
  result.wordLabels = wordRows
    .filter((row) => row.kind === "text")
    .map((row) => row.label);
  result.otherWordRows = wordRows.filter((row) => row.kind !== "text");
  log(
    `suggest widget after "${config.letter}": ${result.wordLabels.join(", ")}`,
  );
  await page.screenshot({ path: config.screenshots.word });
  await page.keyboard.press("Escape");

  await page.keyboard.press("Control+S");
  await page.waitForSelector(".tab.active.dirty", {
    state: "detached",
    timeout,
  });
  await page.screenshot({ path: config.screenshots.saved });
  log("saved with Ctrl+S");

  // Settings changes restart the server; failures show in the status bar and a message with
  // the way out (a bundle that does not exist, then a server command that does not exist).
  await setSetting(page, "nextword.bundle", config.missingBundle);
  result.noModel = await failureShown(page, "warning", "cannot complete");
  log(`missing bundle: ${JSON.stringify(result.noModel)}`);
  await page.screenshot({ path: config.screenshots.noModel });
  await page
    .locator(".notification-toast .codicon-notifications-clear")
    .first()
    .click()
    .catch(() => undefined);
  await setSetting(page, "nextword.server.command", config.missingCommand, { machine: true });
  result.notFound = await failureShown(page, "error", "pip install nextword");
  log(`missing server: ${JSON.stringify(result.notFound)}`);
  await page.screenshot({ path: config.screenshots.notFound });
});
