/**
 * One run of `tenantry`: parse the arguments, load the config, run the command, close the
 * instance, and map the outcome to an exit code:
 *
 * - 0: done
 * - 1: the command failed (a `TenantryError` printed as `code: message`, a failed tenant
 *   migration or provisioning, an invalid config, or the user answered no)
 * - 2: the command line was wrong (printed with the usage), or a destructive command without
 *   `--yes` while stdin is not a terminal
 */
import { UsageError, commandHelp, parseCommandLine, usageText } from './args.js';
import type { Invocation } from './args.js';
import type { CliIo } from './commands.js';
import { cell } from './output.js';
import { ConfirmationRequiredError, assertCanConfirm } from './prompt.js';

export type { CliIo } from './commands.js';

/** Exit codes of `tenantry`. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/**
 * Runs `tenantry` with `argv` (without the node and script paths) and resolves the exit code.
 * Never rejects for a failed command: the failure is printed to `io.stderr`.
 *
 * @example
 * process.exitCode = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let invocation: Invocation;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      io.stdout.write(parsed.text);
      return EXIT.ok;
    }
    invocation = parsed.invocation;
    const { command } = invocation;
    if ((command.name === 'destroy' || command.name === 'purge-expired') && !command.yes) assertCanConfirm(command.name, io);
  } catch (err) {
    return failed(err, io);
  }
  try {
    // The library is loaded only now: help and argument errors answer without it.
    const [{ loadConfig }, { runCommand }] = await Promise.all([import('./config.js'), import('./commands.js')]);
    const config = await loadConfig(invocation.config, io.cwd);
    let code: number;
    try {
      code = await runCommand(invocation.command, { tenantry: config.tenantry, io, json: invocation.json });
    } finally {
      await config.close();
    }
    return code;
  } catch (err) {
    return failed(err, io);
  }
}

/** Prints `err` and resolves its exit code. */
function failed(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    io.stderr.write(`tenantry: ${cell(err.message)}\n\n${err.command === undefined ? usageText() : commandHelp(err.command)}`);
    return EXIT.usage;
  }
  if (err instanceof ConfirmationRequiredError) {
    io.stderr.write(`tenantry: ${err.message}\n`);
    return EXIT.usage;
  }
  io.stderr.write(`${errorLine(err)}\n`);
  return EXIT.failed;
}

/** `CODE: message` for coded errors (TenantryError, MigrationError), `error: message` otherwise, with causes. */
function errorLine(err: unknown): string {
  if (!(err instanceof Error)) return `error: ${cell(String(err))}`;
  const code = (err as { code?: unknown }).code;
  let line = typeof code === 'string' && /^[A-Z][A-Z_]+$/.test(code) ? `${code}: ${cell(err.message)}` : `error: ${cell(err.message)}`;
  let cause: unknown = err.cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    if (!err.message.includes(cause.message)) line += `\n  caused by: ${cell(cause.message)}`;
    cause = cause.cause;
  }
  return line;
}
