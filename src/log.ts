import { sanitizeForTerminal } from './text/sanitize.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

/**
 * stderr chatter. stdout carries data only, so everything a person reads goes
 * here, sanitized. `-q` silences all but errors.
 */
export interface Logger {
  error(line: string): void;
  warn(line: string): void;
  info(line: string): void;
  debug(line: string): void;
  readonly verbosity: Verbosity;
}

/**
 * A progress display (one per process) registers here how to get out of the
 * way of a line written to the terminal and how to come back below it.
 */
export const terminalHooks: { beforeWrite?: (() => void) | undefined; afterWrite?: (() => void) | undefined } = {};

/** A line for stderr written outside a logger (the signal notice): it must not be glued to a bar. */
export function writeAboveProgress(stream: NodeJS.WritableStream, text: string): void {
  terminalHooks.beforeWrite?.();
  stream.write(text);
  terminalHooks.afterWrite?.();
}

export function createLogger(
  verbosity: Verbosity,
  stream: NodeJS.WritableStream = process.stderr,
  // A progress display redraws below these lines; it registers itself here.
  hooks: { beforeWrite?: (() => void) | undefined; afterWrite?: (() => void) | undefined } = terminalHooks,
): Logger & { hooks: typeof hooks } {
  const write = (prefix: string, line: string) => {
    hooks.beforeWrite?.();
    stream.write(`${prefix}${sanitizeForTerminal(line)}\n`);
    hooks.afterWrite?.();
  };
  return {
    verbosity,
    hooks,
    error: (line) => write('chat-export: ', line),
    warn: (line) => {
      if (verbosity !== 'quiet') write('chat-export: warning: ', line);
    },
    info: (line) => {
      if (verbosity !== 'quiet') write('chat-export: ', line);
    },
    debug: (line) => {
      if (verbosity === 'verbose') write('chat-export: ', line);
    },
  };
}

/**
 * An error as the lines a person reads: every line starts `chat-export: `
 * and stands on its own (grep, cron mail), the hint on the same line after
 * " — ". A message of several lines is a heading ("invalid config FILE:")
 * and one cause per line: each cause gets the heading in front of it.
 */
export function formatErrorLines(message: string, hint?: string): string[] {
  const lines = message.split('\n').map((line) => sanitizeForTerminal(line).trim()).filter((line) => line !== '');
  const tail = hint ? ` — ${sanitizeForTerminal(hint)}` : '';
  if (lines.length === 0) return hint ? [`chat-export: ${sanitizeForTerminal(hint)}`] : [];
  const [head, ...causes] = lines as [string, ...string[]];
  if (causes.length === 0) return [`chat-export: ${head}${tail}`];
  return causes.map((cause, i) => `chat-export: ${head} ${cause}${i === causes.length - 1 ? tail : ''}`);
}
