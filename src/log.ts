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

export function createLogger(
  verbosity: Verbosity,
  stream: NodeJS.WritableStream = process.stderr,
  // A progress display redraws below these lines; it registers itself here.
  hooks: { beforeWrite?: () => void; afterWrite?: () => void } = {},
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
