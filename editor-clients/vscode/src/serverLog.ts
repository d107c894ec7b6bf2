// The server's stderr into the log channel at the level the server logged it with.
import * as readline from "readline";
import type { Readable } from "stream";
import type * as vscode from "vscode";

// `nextword serve` logs "2026-01-31 12:00:00,123 LEVEL logger: message" (server/lsp/server.py).
const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

export function logServerLine(line: string, log: vscode.LogOutputChannel): void {
  const match = LOG_LINE.exec(line);
  if (match === null) {
    log.error(line); // tracebacks and anything else unexpected
    return;
  }
  const [, level, message] = match;
  if (level === "DEBUG") {
    log.debug(message);
  } else if (level === "INFO") {
    log.info(message);
  } else if (level === "WARNING") {
    log.warn(message);
  } else {
    log.error(message);
  }
}

export function pipeLines(
  input: Readable,
  log: vscode.LogOutputChannel,
  handle: (line: string, log: vscode.LogOutputChannel) => void,
): void {
  readline
    .createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 })
    .on("line", (line) => handle(line, log));
}
