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
  learnFromTyping: boolean;
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

/**
 * Settings a workspace must not choose (package.json gives them `machine` scope and lists them
 * in `restrictedConfigurations`): the program the extension runs and its arguments. They are
 * read from the user's settings only, whatever a workspace's `.vscode/settings.json` says.
 */
export const MACHINE_SETTINGS = [
  "server.command",
  "server.pythonPath",
  "server.extraArgs",
] as const;

/**
 * Server settings that write what the user types to disk: only the user's own settings may turn
 * them on (a repository must not opt its readers into being stored).
 */
export const USER_ONLY_SERVER_SETTINGS: readonly (readonly string[])[] = [
  ["memory", "persist"],
  ["learning", "enabled"],
  ["learning", "typing"],
];

function userValue<T>(config: vscode.WorkspaceConfiguration, key: string, fallback: T): T {
  const inspected = config.inspect<T>(key);
  return inspected?.globalValue ?? inspected?.defaultValue ?? fallback;
}

function withoutPath(
  value: Record<string, unknown>,
  path: readonly string[],
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (!(head in value)) {
    return value;
  }
  const copy = { ...value };
  const inner = copy[head];
  if (rest.length === 0) {
    delete copy[head];
  } else if (typeof inner === "object" && inner !== null && !Array.isArray(inner)) {
    copy[head] = withoutPath(inner as Record<string, unknown>, rest);
  }
  return copy;
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function withValue(
  value: Record<string, unknown>,
  path: readonly string[],
  setting: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (rest.length === 0) {
    return { ...value, [head]: setting };
  }
  const inner = value[head];
  const object =
    typeof inner === "object" && inner !== null && !Array.isArray(inner)
      ? (inner as Record<string, unknown>)
      : {};
  return { ...value, [head]: withValue(object, rest, setting) };
}

/** `nextword.serverSettings` as configured, with the user-only keys taken from the user's value. */
export function guardedServerSettings(
  config: vscode.WorkspaceConfiguration,
): Record<string, unknown> {
  let merged = config.get<Record<string, unknown>>("serverSettings", {});
  const user = userValue<Record<string, unknown>>(config, "serverSettings", {});
  for (const path of USER_ONLY_SERVER_SETTINGS) {
    const fromUser = valueAt(user, path);
    merged = fromUser === undefined ? withoutPath(merged, path) : withValue(merged, path, fromUser);
  }
  return merged;
}

export function readSettings(): ClientSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    enable: config.get<boolean>("enable", true),
    command: userValue(config, "server.command", "nextword").trim() || "nextword",
    pythonPath: userValue(config, "server.pythonPath", "").trim(),
    extraArgs: userValue<string[]>(config, "server.extraArgs", []),
    bundle: config.get<string>("bundle", "").trim(),
    languages: config.get<string[]>("languages", [...DEFAULT_LANGUAGES]),
    maxItems: config.get<number>("maxItems", 6),
    inlineSuggestions: config.get<boolean>("inlineSuggestions", true),
    learnFromTyping: userValue(config, "learnFromTyping", true),
    serverSettings: guardedServerSettings(config),
  };
}

export function serverSettings(settings: ClientSettings): { [SECTION]: ServerSettings } {
  const value = settings.serverSettings.learning;
  const learning =
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  return {
    [SECTION]: {
      ...settings.serverSettings,
      // Off when either the setting or the user's serverSettings.learning.typing says so.
      learning: { ...learning, typing: settings.learnFromTyping && learning.typing !== false },
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
