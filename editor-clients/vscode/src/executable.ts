// Finding the server executable before spawning it, so a missing install gets a useful message.
import { constants as fsConstants, promises as fs } from "fs";
import * as path from "path";

import type { ClientSettings } from "./settings";

export interface ServerLaunch {
  command: string;
  args: string[];
  /** The setting the user should change when `command` cannot be found. */
  setting: "nextword.server.command" | "nextword.server.pythonPath";
}

export function serverLaunch(settings: ClientSettings): ServerLaunch {
  if (settings.pythonPath !== "") {
    return {
      command: settings.pythonPath,
      args: ["-m", "nextword.server.cli", "serve", ...settings.extraArgs],
      setting: "nextword.server.pythonPath",
    };
  }
  return {
    command: settings.command,
    args: ["serve", ...settings.extraArgs],
    setting: "nextword.server.command",
  };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) {
      return false;
    }
    await fs.access(file, process.platform === "win32" ? fsConstants.F_OK : fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isPath(command: string): boolean {
  return command.includes("/") || command.includes("\\");
}

/** The absolute path `command` resolves to (like `which`), or undefined when it does not. */
export async function resolveExecutable(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (isPath(command)) {
    return (await isExecutable(command)) ? path.resolve(command) : undefined;
  }
  const extensions =
    process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const directory of (env.PATH ?? "").split(path.delimiter)) {
    if (directory === "") {
      continue;
    }
    for (const extension of extensions) {
      const candidate = path.join(directory, command + extension);
      if (await isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

export function notFoundMessage(launch: ServerLaunch): string {
  if (launch.setting === "nextword.server.pythonPath") {
    return (
      `nextword: the Python interpreter "${launch.command}" was not found. ` +
      `Fix nextword.server.pythonPath, or clear it to use nextword.server.command.`
    );
  }
  const where = isPath(launch.command)
    ? "does not exist or is not executable"
    : "was not found on PATH";
  return (
    `nextword: "${launch.command}" ${where}. ` +
    `Install the server with "pip install nextword", or set nextword.server.command ` +
    `(or nextword.server.pythonPath) to where it is installed.`
  );
}
