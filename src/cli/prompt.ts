/**
 * Confirmation of destructive commands (`destroy`, `purge-expired`): a yes/no question on a
 * terminal; without a terminal the command is refused unless `--yes` was passed.
 */
import { createInterface } from 'node:readline';
import type { TextStream } from './output.js';

/** Where the question is asked and answered. */
export interface PromptIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: TextStream;
}

/** A destructive command without `--yes` while stdin is not a terminal: exit code 2. */
export class ConfirmationRequiredError extends Error {
  constructor(command: string) {
    super(`${command}: refusing to run without confirmation: stdin is not a terminal; pass --yes to confirm`);
    this.name = 'ConfirmationRequiredError';
  }
}

/**
 * Throws a {@link ConfirmationRequiredError} when a confirmation could not be asked (stdin is
 * not a terminal). Checked before anything is loaded, so a script fails fast.
 */
export function assertCanConfirm(command: string, io: PromptIo): void {
  if (io.stdin.isTTY !== true) throw new ConfirmationRequiredError(command);
}

/**
 * Asks `question` on stderr and reads the answer from stdin: resolves `true` for `y` or `yes`
 * (any case), `false` for anything else, end of input or Ctrl-C.
 *
 * @example
 * if (!(await confirm('Destroy tenant "acme"?', { stdin: process.stdin, stderr: process.stderr }))) return 1;
 */
export function confirm(question: string, io: PromptIo): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream, terminal: io.stderr.isTTY === true });
    let answered = false;
    const settle = (yes: boolean): void => {
      if (answered) return;
      answered = true;
      rl.close();
      resolve(yes);
    };
    rl.on('close', () => {
      if (!answered) io.stderr.write('\n');
      settle(false);
    });
    // Without a listener readline would only pause stdin, and the process would end mid-question.
    rl.on('SIGINT', () => {
      io.stderr.write('\n');
      settle(false);
    });
    rl.question(`${question} [y/N] `, (answer) => settle(/^\s*y(?:es)?\s*$/i.test(answer)));
  });
}
