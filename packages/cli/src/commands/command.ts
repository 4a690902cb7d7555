/** One `fluxo <name>` command family. */
export interface Command {
  name: string
  /** One line for the top-level help. */
  summary: string
  /** Printed by `fluxo <name> --help`. */
  help: string
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(args: string[]): Promise<number>
}
