import { CommanderError } from 'commander';
import { buildProgram } from './cli.js';
import { ChatExportError, ExitError } from './errors.js';
import { formatErrorLines, writeAboveProgress } from './log.js';
import { sanitizeForTerminal } from './text/sanitize.js';

/**
 * The one error boundary: every failure becomes a message on stderr and an
 * exit code (DESIGN.md section 2). Stack traces only with CHAT_EXPORT_DEBUG,
 * and even then with secrets redacted.
 */
async function main(): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    // Through the progress display's hooks: the bars are wiped first, so the line starts on its own
    // (no blank line before it, nothing glued to a bar).
    writeAboveProgress(process.stderr, `chat-export: ${signal}: stopping…\n`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A rejection nobody awaited would otherwise reach Node's default handler, which
  // prints the raw error (unsanitized, with its properties and stack) and exits 1.
  const escaped = (error: unknown) => {
    process.exitCode = report(error);
    process.exit();
  };
  process.on('unhandledRejection', escaped);
  process.on('uncaughtException', escaped);
  // `chat-export dump | head` closes the pipe early: that is not a failure of ours.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });

  const program = buildProgram({
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
  });
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return 0;
    // commander already printed the message
    return 2;
  }
  if (error instanceof ExitError) return error.exitCode;
  if (error instanceof ChatExportError) {
    for (const line of formatErrorLines(error.message, error.hint)) process.stderr.write(`${line}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `chat-export: internal error: ${sanitizeForTerminal(message)} — this is a bug in chat-export; please report it with the command you ran (without secrets)\n`,
  );
  if (process.env.CHAT_EXPORT_DEBUG && error instanceof Error && error.stack) {
    process.stderr.write(`${sanitizeForTerminal(error.stack)}\n`);
  }
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = report(error);
  },
);
