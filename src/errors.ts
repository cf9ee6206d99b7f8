/**
 * Every failure the user can see is one of these. Each carries the process
 * exit code of DESIGN.md section 2; only src/main.ts turns them into an exit.
 */
export class ChatExportError extends Error {
  readonly exitCode: number = 1;
  readonly code: string = 'ERR_CHAT_EXPORT';
  /** A short hint on what to do, printed after the message. */
  readonly hint: string | undefined;

  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Bad flag, unknown provider, invalid config, missing credential. */
export class UsageError extends ChatExportError {
  override readonly exitCode = 2;
  override readonly code = 'ERR_USAGE';
}

/** 401/403 or a provider's "permission denied". */
export class AuthError extends ChatExportError {
  override readonly exitCode = 3;
  override readonly code = 'ERR_AUTH';
}

/**
 * The credential may not read this channel (not a member, no permission: Discord's 403 Missing Access), as a
 * definition's error rule of kind `unreadable` says. For a channel asked for by id it is exit 3 like any refusal;
 * under `--all-channels` the channel is skipped and named, never a failure.
 */
export class UnreadableError extends AuthError {}

/** Network, 5xx, malformed responses: after retries, or not retryable at all. */
export class RemoteError extends ChatExportError {
  override readonly exitCode = 4;
  override readonly code = 'ERR_REMOTE';
  /** Whether another attempt of the same request may succeed. */
  readonly retryable: boolean;
  /** Server-requested wait before the next attempt, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: { cause?: unknown; hint?: string; retryable?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message, options);
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Some channels exported, some failed: the failures were already reported. */
export class PartialError extends ChatExportError {
  override readonly exitCode = 5;
  override readonly code = 'ERR_PARTIAL';
}

/**
 * The local file system refused a write or read during the run (disk full,
 * I/O error, permission, read-only): exit 6. The message names the path and
 * the channel; earlier output is intact and the checkpoint kept.
 */
export class LocalIoError extends ChatExportError {
  override readonly exitCode = 6;
  override readonly code = 'ERR_LOCAL_IO';
}

/** Exit codes of the signals a run stops on: 128 + the signal number. */
export const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** The run was interrupted (SIGINT/SIGTERM/SIGHUP) after saving its checkpoint. */
export class InterruptedError extends ChatExportError {
  override readonly exitCode: number;
  override readonly code = 'ERR_INTERRUPTED';
  readonly signal: StopSignal;
  constructor(message: string, options: { cause?: unknown; hint?: string; signal?: StopSignal } = {}) {
    super(message, options);
    this.signal = options.signal ?? 'SIGINT';
    this.exitCode = SIGNAL_EXIT_CODES[this.signal];
  }
}

/**
 * The reader of stdout went away (`| head -1`): not a failure to report, but
 * not a complete export either: exit 141 (128 + SIGPIPE), quiet, no state advanced.
 */
export class StdoutClosedError extends ChatExportError {
  override readonly exitCode = 141;
  override readonly code = 'ERR_STDOUT_CLOSED';
  constructor() {
    super('stdout was closed by the reader');
  }
}

/** The causes were already printed; only the exit code remains to be given. */
export class ExitError extends ChatExportError {
  override readonly exitCode: number;
  constructor(exitCode: number) {
    super('');
    this.exitCode = exitCode;
  }
}

