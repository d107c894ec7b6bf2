// Ghost text in the real VS Code (code-server in headless Chromium): open a Markdown file whose
// text uses a made-up name, type the name's first letters at its end, wait for the inline
// suggestion (ghost text), keep a screenshot, accept it with Tab (or, with `acceptWords`, that
// many words of it with "Accept Next Word", Ctrl+Right, then dismiss the rest with Escape) and
// save with Ctrl+S. Input: NEXTWORD_VSCODE_TEST, a JSON object {url, folder, fileName, typed,
// acceptWords?, chromium, screenshots: {ghost, failure}, timeoutMs}. Output: one line `RESULT {json}` on stdout; the
// Python test (tests/test_editor_vscode.py) checks it and the file on disk.
import { config, log, openFileWhenReady, runTest, timeout } from "./vscode_common.mjs";

const GHOST = ".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text";

runTest(async (page, result) => {
  await openFileWhenReady(page);
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

  if (config.acceptWords) {
    result.ghostAfterWords = [];
    for (let word = 0; word < config.acceptWords; word++) {
      await page.waitForSelector(GHOST, { timeout });
      await page.keyboard.press("Control+ArrowRight");
      await page.waitForTimeout(500);
      const rest = await page.locator(GHOST).evaluateAll((nodes) =>
        nodes.map((node) => node.textContent).join(""),
      );
      result.ghostAfterWords.push(rest.replace(/\u00a0/g, " "));
      log(`accepted word ${word + 1} with Ctrl+Right; ghost text now "${rest}"`);
    }
    await page.keyboard.press("Escape");
    await page.waitForSelector(GHOST, { state: "detached", timeout });
  } else {
    await page.keyboard.press("Tab");
    await page.waitForSelector(GHOST, { state: "detached", timeout });
    log("accepted with Tab");
  }
  await page.keyboard.press("Control+S");
  await page.waitForSelector(".tab.active.dirty", { state: "detached", timeout });
  log("saved with Ctrl+S");
});
