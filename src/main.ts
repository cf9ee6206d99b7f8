import { CommanderError } from 'commander';
import { buildProgram } from './cli.js';
import { ChatExportError, ExitError, InterruptedError, SIGNAL_EXIT_CODES, StdoutClosedError, type StopSignal } from './errors.js';
import { localIoError } from './fs-errors.js';
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
  // A closed terminal (SIGHUP) may also have closed stderr: losing a message must not crash the stop.
  process.stderr.on('error', () => {});
  const onSignal = (signal: StopSignal) => {
    interrupts++;
    // A second signal means "now": locks and temp files of a killed run are cleaned up by the next one.
    if (interrupts > 1) process.exit(SIGNAL_EXIT_CODES[signal]);
    // Through the progress display's hooks: the bars are wiped first, so the line starts on its own
    // (no blank line before it, nothing glued to a bar).
    writeAboveProgress(process.stderr, `chat-export: ${signal}: stopping…\n`);
    controller.abort(new InterruptedError(`interrupted by ${signal}`, { signal }));
  };
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]) process.on(signal, () => onSignal(signal));
  // A rejection nobody awaited would otherwise reach Node's default handler, which
  // prints the raw error (unsanitized, with its properties and stack) and exits 1.
  const escaped = (error: unknown) => {
    process.exitCode = report(error);
    process.exit();
  };
  process.on('unhandledRejection', escaped);
  process.on('uncaughtException', escaped);
  // `chat-export dump | head` closes the pipe early: the run stops quietly (141) and records
  // nothing. Any other stdout failure (stdout on /dev/full: ENOSPC) is a local I/O error (6).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (controller.signal.aborted) return;
    controller.abort(error.code === 'EPIPE' ? new StdoutClosedError() : localIoError(error, { path: 'stdout' }));
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
  if (error instanceof StdoutClosedError) return error.exitCode;
  // The last net for the environment: a file-system error that escaped its layer is still exit 6.
  const local = error instanceof ChatExportError ? undefined : localIoError(error, {});
  if (local) error = local;
  if (error instanceof ChatExportError) {
    for (const line of formatErrorLines(error.message, error.hint)) process.stderr.write(`${line}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `chat-export: internal error: ${sanitizeForTerminal(message)} — this is a bug in chat-export; please report it with the command you ran (without secrets)\n`,
  );
  if (process.env.CHAT_EXPORT_DEBUG && error instanceof Error && error.stack) {
    process.stderr.write(`${sanitizeForTerminal(error.stack, Infinity)}\n`);
  }
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // After a stop, a write blocked on a reader that never reads (a FIFO, a stalled pipe)
    // must not hold the process open: everything to keep was saved before we got here.
    if (code > 128) process.exit(code);
  },
  (error: unknown) => {
    process.exitCode = report(error);
  },
);
