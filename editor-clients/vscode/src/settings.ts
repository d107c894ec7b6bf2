// Typed access to the `nextword.*` settings and the parts of them the server receives.
import * as vscode from "vscode";

export const SECTION = "nextword";

export const DEFAULT_LANGUAGES: readonly string[] = [
  "plaintext",
  "markdown",
  "latex",
  "restructuredtext",
  "git-commit",
  "asciidoc",
];

export interface ClientSettings {
  enable: boolean;
  command: string;
  pythonPath: string;
  extraArgs: string[];
  bundle: string;
  languages: string[];
  maxItems: number;
  inlineSuggestions: boolean;
  serverSettings: Record<string, unknown>;
}

/**
 * What the server reads from initializationOptions / didChangeConfiguration under `nextword`
 * (server/settings.py: camelCase or snake_case names of its `Settings` dataclass).
 */
export interface ServerSettings {
  [name: string]: unknown;
  bundle: string;
  maxItems: number;
  languages: string[];
  inlineSuggestions?: boolean;
}

export function readSettings(): ClientSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    enable: config.get<boolean>("enable", true),
    command: config.get<string>("server.command", "nextword").trim() || "nextword",
    pythonPath: config.get<string>("server.pythonPath", "").trim(),
    extraArgs: config.get<string[]>("server.extraArgs", []),
    bundle: config.get<string>("bundle", "").trim(),
    languages: config.get<string[]>("languages", [...DEFAULT_LANGUAGES]),
    maxItems: config.get<number>("maxItems", 6),
    inlineSuggestions: config.get<boolean>("inlineSuggestions", true),
    serverSettings: config.get<Record<string, unknown>>("serverSettings", {}),
  };
}

export function serverSettings(settings: ClientSettings): { [SECTION]: ServerSettings } {
  return {
    [SECTION]: {
      ...settings.serverSettings,
      bundle: settings.bundle,
      maxItems: settings.maxItems,
      languages: settings.languages,
      inlineSuggestions: settings.inlineSuggestions,
    },
  };
}

/** Settings that change how the server process is started (or whether it runs at all). */
const PROCESS_SETTINGS = [
  "enable",
  "server.command",
  "server.pythonPath",
  "server.extraArgs",
  "bundle",
  "languages",
  "trace.server",
] as const;

export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return PROCESS_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}
