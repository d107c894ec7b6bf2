// The status bar item: one place that knows how each server state looks.
import * as vscode from "vscode";

export type ServerState = "disabled" | "starting" | "ready" | "noModel" | "error" | "stopped";

const LOOK: Record<ServerState, { text: string; tooltip: string; warn: boolean }> = {
  disabled: { text: "$(circle-slash) nextword", tooltip: "nextword is disabled", warn: false },
  starting: {
    text: "$(sync~spin) nextword",
    tooltip: "nextword: starting the server",
    warn: false,
  },
  ready: { text: "$(check) nextword", tooltip: "nextword: ready", warn: false },
  noModel: { text: "$(warning) nextword: no model", tooltip: "nextword: no model", warn: true },
  error: { text: "$(error) nextword", tooltip: "nextword: the server failed", warn: true },
  stopped: { text: "$(debug-stop) nextword", tooltip: "nextword: stopped", warn: false },
};

export class StatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private current: ServerState = "stopped";
  private languages = new Set<string>();

  constructor(languages: readonly string[]) {
    this.item = vscode.window.createStatusBarItem(
      "nextword.status",
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.item.name = "nextword";
    this.item.command = "nextword.showLog";
    this.setLanguages(languages);
  }

  get state(): ServerState {
    return this.current;
  }

  /** Show the item only in editors nextword completes in. */
  setLanguages(languages: readonly string[]): void {
    this.languages = new Set(languages);
    this.refreshVisibility();
  }

  set(state: ServerState, detail?: string): void {
    this.current = state;
    const look = LOOK[state];
    this.item.text = look.text;
    const tooltip = detail === undefined ? look.tooltip : `${look.tooltip}\n\n${detail}`;
    this.item.tooltip = `${tooltip}\n\nClick to show the log.`;
    this.item.backgroundColor = look.warn
      ? new vscode.ThemeColor(
          state === "error" ? "statusBarItem.errorBackground" : "statusBarItem.warningBackground",
        )
      : undefined;
    this.refreshVisibility();
  }

  refreshVisibility(): void {
    const editor = vscode.window.activeTextEditor;
    if (editor !== undefined && this.languages.has(editor.document.languageId)) {
      this.item.show();
    } else {
      this.item.hide();
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}
