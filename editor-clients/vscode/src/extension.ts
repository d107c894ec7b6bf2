// nextword for VS Code: starts `nextword serve` over stdio for prose documents.
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  MessageType,
  RevealOutputChannelOn,
  type ServerOptions,
  ShowMessageNotification,
  TransportKind,
} from "vscode-languageclient/node";

import { notFoundMessage, resolveExecutable, serverLaunch } from "./executable";
import { logServerLine, pipeLines } from "./serverLog";
import {
  type ClientSettings,
  needsRestart,
  readSettings,
  SECTION,
  serverSettings,
} from "./settings";
import { type ServerState, StatusItem } from "./status";

/** Optional notification the server may send: `{ state: "ready" | "noModel" | "error", message? }`. */
const STATUS_NOTIFICATION = "nextword/status";
const SERVER_STATES: Record<string, ServerState | undefined> = {
  ready: "ready",
  "no-model": "noModel",
  error: "error",
};
const MAX_CRASHES = 3;
const CRASH_WINDOW_MS = 3 * 60 * 1000;

let controller: ClientController | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel("nextword", { log: true });
  const status = new StatusItem(readSettings().languages);
  controller = new ClientController(log, status);
  context.subscriptions.push(
    log,
    status,
    controller,
    vscode.commands.registerCommand("nextword.restart", () => controller?.restart("command")),
    vscode.commands.registerCommand("nextword.showLog", () => log.show(true)),
    vscode.window.onDidChangeActiveTextEditor(() => status.refreshVisibility()),
    vscode.workspace.onDidChangeConfiguration((event) => controller?.onConfigurationChanged(event)),
  );
  await controller.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}

class ClientController implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private crashTimes: number[] = [];
  /** Serialises start/stop so quick settings edits cannot interleave them. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly status: StatusItem,
  ) {}

  start(): Promise<void> {
    return this.enqueue(() => this.startNow());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.stopNow());
  }

  restart(reason: string): Promise<void> {
    this.log.info(`restarting the server (${reason})`);
    return this.enqueue(async () => {
      await this.stopNow();
      this.crashTimes = [];
      await this.startNow();
    });
  }

  onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(SECTION)) {
      return;
    }
    const settings = readSettings();
    this.status.setLanguages(settings.languages);
    if (needsRestart(event)) {
      void this.restart("settings changed");
    } else if (this.client?.isRunning()) {
      this.log.info("sending changed settings to the server");
      void this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: serverSettings(settings),
      });
    }
  }

  dispose(): void {
    void this.stop();
  }

  private enqueue(action: () => Promise<void>): Promise<void> {
    const next = this.queue.then(action, action);
    this.queue = next.catch((error: unknown) => this.log.error(String(error)));
    return next;
  }

  private async startNow(): Promise<void> {
    const settings = readSettings();
    if (!settings.enable) {
      this.log.info("nextword.enable is false: not starting the server");
      this.status.set("disabled");
      return;
    }
    const launch = serverLaunch(settings);
    const resolved = await resolveExecutable(launch.command);
    if (resolved === undefined) {
      this.fail(notFoundMessage(launch), launch.setting);
      return;
    }
    this.log.info(`starting ${resolved} ${launch.args.join(" ")}`);
    this.status.set("starting");
    const client = this.createClient(settings, { command: resolved, args: launch.args });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      const reason = error instanceof Error ? error.message : String(error);
      this.fail(`nextword: the server "${resolved}" failed to start: ${reason}`, launch.setting);
      await client.dispose().catch(() => undefined);
      return;
    }
  }

  private async stopNow(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      await client
        .dispose(2000)
        .catch((error: unknown) => this.log.warn(`stopping: ${String(error)}`));
    }
    this.status.set("stopped");
  }

  private createClient(
    settings: ClientSettings,
    command: { command: string; args: string[] },
  ): LanguageClient {
    const serverOptions: ServerOptions = {
      command: command.command,
      args: command.args,
      transport: TransportKind.stdio,
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: settings.languages.flatMap((language) => [
        { scheme: "file", language },
        { scheme: "untitled", language },
      ]),
      initializationOptions: serverSettings(settings),
      middleware: {
        // Ghost text only when nextword.inlineSuggestions is on, whatever the server offers.
        provideInlineCompletionItems: (document, position, context, token, next) =>
          readSettings().inlineSuggestions ? next(document, position, context, token) : null,
        workspace: {
          // Answer workspace/configuration with what the server understands, not the whole
          // `nextword.*` tree (which also holds client-only settings like server.command).
          configuration: (params) =>
            params.items.map((item) =>
              item.section === undefined || item.section === SECTION
                ? serverSettings(readSettings())[SECTION]
                : item.section.startsWith(`${SECTION}.`)
                  ? null // only the guarded tree above: never a raw, workspace-set part of it
                  : vscode.workspace.getConfiguration().get(item.section),
            ),
        },
      },
      outputChannel: this.log,
      stdioOptions: {
        stdout: (input, log) => pipeLines(input, log, (line) => log.info(line)),
        stderr: (input, log) => pipeLines(input, log, logServerLine),
      },
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationFailedHandler: (error) => {
        this.fail(
          `nextword: the server failed to initialize: ${String(error)}`,
          "nextword.server.command",
        );
        return false;
      },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => this.onServerClosed(),
      },
    };
    const client = new LanguageClient("nextword", "nextword", serverOptions, clientOptions);
    client.onNotification(ShowMessageNotification.type, (params) =>
      this.onShowMessage(params.type, params.message),
    );
    client.onNotification(STATUS_NOTIFICATION, (params: { state?: string; message?: string }) =>
      this.onStatusNotification(params),
    );
    return client;
  }

  private onServerClosed(): { action: CloseAction; message?: string; handled?: boolean } {
    const now = Date.now();
    this.crashTimes = [...this.crashTimes.filter((time) => now - time < CRASH_WINDOW_MS), now];
    if (this.crashTimes.length > MAX_CRASHES) {
      this.fail(
        `nextword: the server stopped ${this.crashTimes.length} times in 3 minutes; not restarting it. ` +
          "See the log, then run 'nextword: Restart Server'.",
        "nextword.server.command",
      );
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    this.log.warn("the server stopped; restarting it");
    this.status.set("starting");
    return { action: CloseAction.Restart, handled: true };
  }

  /** The server reports user-facing problems (a bundle that fails to load) with showMessage;
   * the status bar follows nextword/status. */
  private onShowMessage(type: MessageType, message: string): void {
    const text = message.startsWith("nextword") ? message : `nextword: ${message}`;
    if (type === MessageType.Error) {
      this.log.error(message);
      this.offerFix(
        vscode.window.showErrorMessage(text, "Open Settings", "Show Log"),
        "nextword.bundle",
      );
    } else if (type === MessageType.Warning) {
      this.log.warn(message);
      void vscode.window.showWarningMessage(text);
    } else {
      this.log.info(message);
      void vscode.window.showInformationMessage(text);
    }
  }

  /** nextword/status: {state: "ready" | "no-model" | "error", message}, sent by the server once
   * initialized and whenever it (re)loads its model. */
  private onStatusNotification(params: { state?: string; message?: string }): void {
    const detail = params.message;
    const state = SERVER_STATES[params.state ?? ""];
    if (state !== undefined) {
      this.status.set(state, detail);
    }
    if (detail !== undefined) {
      this.log.info(`server status ${String(params.state)}: ${detail}`);
    }
  }

  private fail(message: string, setting: string): void {
    this.log.error(message);
    this.status.set("error", message);
    this.offerFix(vscode.window.showErrorMessage(message, "Open Settings", "Show Log"), setting);
  }

  private offerFix(choice: Thenable<string | undefined>, setting: string): void {
    void choice.then((picked) => {
      if (picked === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", setting);
      } else if (picked === "Show Log") {
        this.log.show(true);
      }
    });
  }
}
