#!/usr/bin/env node
/**
 * The `tenantry` executable (`bin` in package.json, built to `dist/cli.js`). Runs one command
 * and lets the process end by itself once the tenantry instance is closed.
 */
import { run } from './run.js';

/** How long the process may stay alive after the command is done before it is ended. */
const LINGER_MS = 2_000;

// `tenantry list | head`: a closed pipe is not a failure of the command.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
  (code) => finish(code),
  (err: unknown) => {
    console.error('tenantry: unexpected failure', err);
    finish(1);
  },
);

/**
 * Sets the exit code. The process normally ends right away; if something the config opened
 * (a pool, a client) still holds it after {@link LINGER_MS}, say so and end it.
 */
function finish(code: number): void {
  process.exitCode = code;
  setTimeout(() => {
    process.stderr.write(`tenantry: something the config opened still holds the process ${LINGER_MS} ms after closing (a connection pool or client?); exiting\n`);
    process.exit(code);
  }, LINGER_MS).unref();
}
