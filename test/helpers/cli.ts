/**
 * Runs the real CLI (`node bin/chat-export.js …`) the way a user would: a
 * child process with its own environment, optional stdin, stdout and stderr
 * captured separately. The environment is built from scratch so a developer's
 * CHAT_EXPORT_* variables or config file can never leak into a test.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'chat-export.js');

export interface RunResult {
  /** exit code; null when killed (see `timedOut`) */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the run outlived `timeoutMs` and was killed */
  timedOut: boolean;
  /** wall-clock ms */
  elapsedMs: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** written to the child's stdin, which is then closed; default: stdin closed at once */
  stdin?: string;
  /** kill the child after this long; default 30 s */
  timeoutMs?: number;
  cwd?: string;
}

/** Spawns `command args…` and resolves when it exits (never rejects on a non-zero exit). */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // A killed child's own children (npm → node) may keep its pipes open: do not wait for them forever.
    child.on('exit', (code, signal) => {
      if (timedOut) setTimeout(() => finish(code, signal), 1000).unref();
    });
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    child.on('close', (code, signal) => finish(code, signal));
    let finished = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        elapsedMs: Date.now() - started,
      });
    };
    child.stdin.on('error', () => {}); // the child may exit without reading stdin
    child.stdin.end(options.stdin ?? '');
  });
}

/** `node bin/chat-export.js …args`. */
export function runCli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], options);
}

/** Pipes `input` through `jq -c .` (jq exits non-zero on anything that is not JSON). */
export function jqCompact(input: string): Promise<RunResult> {
  return run('jq', ['-c', '.'], { stdin: input, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
}

export interface PipeResult {
  /** the CLI: exit code and stderr (its stdout went into the pipe) */
  cli: RunResult;
  /** the command at the other end of the pipe: its exit code, stdout and stderr */
  consumer: RunResult;
}

/**
 * `chat-export …args | consumer` run by bash, so stdout is a real pipe(2) as in
 * a user's shell (Node's own 'pipe' stdio is a socket pair, which buffers and
 * blocks differently). `consumer` is a shell command line, e.g. `jq -c .`.
 */
export async function runCliPiped(args: string[], consumer: string, options: RunOptions = {}): Promise<PipeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-export-pipe-'));
  try {
    const errFile = join(dir, 'cli.stderr');
    const codeFile = join(dir, 'codes');
    const script = `"$CHAT_EXPORT_TEST_NODE" "$CHAT_EXPORT_TEST_BIN" "$@" 2>"$CHAT_EXPORT_TEST_ERR" | { ${consumer}; }; echo "\${PIPESTATUS[0]} \${PIPESTATUS[1]}" >"$CHAT_EXPORT_TEST_CODES"`;
    const env = {
      ...(options.env ?? process.env),
      CHAT_EXPORT_TEST_NODE: process.execPath,
      CHAT_EXPORT_TEST_BIN: BIN,
      CHAT_EXPORT_TEST_ERR: errFile,
      CHAT_EXPORT_TEST_CODES: codeFile,
    };
    const shell = await run('bash', ['--norc', '--noprofile', '-c', script, 'chat-export', ...args], { ...options, env });
    let codes: Array<number | null> = [null, null];
    try {
      codes = readFileSync(codeFile, 'utf8').trim().split(' ').map(Number);
    } catch {
      // killed before the pipeline finished: codes stay null
    }
    let cliStderr = '';
    try {
      cliStderr = readFileSync(errFile, 'utf8');
    } catch {
      // never started
    }
    return {
      cli: { ...shell, code: codes[0] ?? null, stdout: '', stderr: cliStderr },
      consumer: { ...shell, code: codes[1] ?? null },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Sandbox {
  dir: string;
  /** a config file path inside `dir` (does not exist until something writes it) */
  config: string;
  /**
   * A clean environment for the CLI: throwaway config, home and XDG dirs,
   * a token and API key, fast retries. `extra` entries set to undefined are removed.
   */
  env(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv;
  cleanup(): void;
}

export const TOKEN = 'test-token-1f2e3d';
export const API_KEY = 'test-api-key-9c8b7a';

export function createSandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'chat-export-test-'));
  const config = join(dir, 'config', 'config.json');
  return {
    dir,
    config,
    env(extra = {}) {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, 'xdg-config'),
        XDG_STATE_HOME: join(dir, 'xdg-state'),
        XDG_DATA_HOME: join(dir, 'xdg-data'),
        XDG_CACHE_HOME: join(dir, 'xdg-cache'),
        TMPDIR: dir,
        CHAT_EXPORT_CONFIG: config,
        CHAT_EXPORT_TOKEN: TOKEN,
        CHAT_EXPORT_API_KEY: API_KEY,
        CHAT_EXPORT_RETRY_BASE_MS: '10',
      };
      for (const [key, value] of Object.entries(extra)) {
        if (value === undefined) delete env[key];
        else env[key] = value;
      }
      return env;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
