import fs from 'node:fs';
import path from 'node:path';
// conf's own dependency; used directly so that finding the default path
// creates nothing (constructing Conf mkdirs its directory).
import envPaths from 'env-paths';
import { UsageError } from '../errors.js';
import { formatIssues } from '../text/schema-issues.js';
import { configSchema, type ConfigFile } from './schema.js';

const PROJECT_NAME = 'chat-export';

/** `--config` > CHAT_EXPORT_CONFIG > conf's per-user location. Always absolute. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) {
    if (flag === '') throw new UsageError('--config needs a file path');
    return path.resolve(flag);
  }
  const fromEnv = env.CHAT_EXPORT_CONFIG;
  if (fromEnv) return path.resolve(fromEnv);
  return defaultConfigPath();
}

/** Same as conf with { projectName } and its defaults (suffix "nodejs", config.json). */
function defaultConfigPath(): string {
  return path.join(envPaths(PROJECT_NAME).config, 'config.json');
}

/**
 * Where incremental state, checkpoints and locks live. With the per-user
 * config: the per-user state directory (XDG_STATE_HOME, ~/.local/state on
 * Linux; the data directory elsewhere), not ~/.config, which is for settings
 * people edit and back up. With a config named by --config or
 * CHAT_EXPORT_CONFIG: `state/` beside it, so two setups on one machine (two
 * configs that both have a profile "work") never share or clobber state.
 */
export function defaultStateDir(configPath: string): string {
  if (path.resolve(configPath) !== defaultConfigPath()) return legacyStateDir(configPath);
  const paths = envPaths(PROJECT_NAME);
  return process.platform === 'linux' ? paths.log : path.join(paths.data, 'state');
}

/** Where every release before this one kept state: beside the config. */
function legacyStateDir(configPath: string): string {
  return path.join(path.dirname(configPath), 'state');
}

/**
 * The state directory in force (--state-dir, else the default), after moving
 * state an earlier release left beside the per-user config, once.
 */
export function resolveStateDir(flag: string | undefined, configPath: string, say: { info(line: string): void; warn(line: string): void }): string {
  if (flag !== undefined) return path.resolve(flag);
  const dir = defaultStateDir(configPath);
  const legacy = legacyStateDir(configPath);
  if (dir === legacy || !fs.existsSync(legacy)) return dir;
  if (fs.existsSync(dir)) {
    say.warn(`state left by an earlier release in ${legacy} is not used (state now lives in ${dir}); move what you need, then remove it`);
    return dir;
  }
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    try {
      fs.renameSync(legacy, dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      fs.cpSync(legacy, dir, { recursive: true, preserveTimestamps: true });
      fs.rmSync(legacy, { recursive: true, force: true });
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot move the state in ${legacy} to ${dir} (${code ?? String(error)})`, {
      cause: error,
      hint: `move it by hand, or pass --state-dir ${legacy}`,
    });
  }
  say.info(`moved incremental state and checkpoints from ${legacy} to ${dir} (once; state now lives there)`);
  return dir;
}

/** A missing (or blank) file is an empty config; nothing is created. */
export function loadConfig(file: string, warn: (line: string) => void): ConfigFile {
  let text: string;
  let mode: number;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      mode = fs.fstatSync(fd).mode;
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { profiles: {} };
    throw new UsageError(`config ${file}: cannot read (${code ?? String(error)})`, { cause: error });
  }

  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    warn(`config ${file} is accessible by other users (mode ${octal}) and may hold credentials; fix with: chmod 600 '${file}'`);
  }

  text = text.replace(/^\uFEFF/, '');
  if (text.trim() === '') return { profiles: {} };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config ${file}: not valid JSON (${describeJsonError(error, text)})`, {
      hint: 'fix the file by hand, or move it aside and re-add the profiles',
    });
  }
  return validate(data, file);
}

/**
 * Replaces the whole file atomically (conf writes through `atomically`: temp
 * file beside the target, fsync, chmod, rename), mode 0600 in a 0700 directory.
 */
export async function saveConfig(file: string, config: ConfigFile): Promise<void> {
  const checked = validate(config, file);
  // Loaded only to write: conf pulls in when-exit, whose SIGINT handler re-raises the
  // signal and would cut short dump's own graceful Ctrl-C (checkpoint, resume hint).
  const { default: Conf } = await import('conf');
  const dir = path.dirname(file);
  const ext = path.extname(file);
  try {
    // conf would create a missing directory with the umask's default mode.
    if (fs.mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) fs.chmodSync(dir, 0o700);
    const store = new Conf<ConfigFile>({
      cwd: dir,
      configName: path.basename(file, ext),
      fileExtension: ext.slice(1),
      configFileMode: 0o600,
      // Whatever is on disk gets replaced; an unparsable old file must not block that.
      clearInvalidConfig: true,
      serialize: (value) => `${JSON.stringify(value, null, 2)}\n`,
    });
    store.store = checked;
    // atomically's chmod is best-effort, and conf's non-atomic fallbacks (SNAP,
    // EXDEV) keep an existing file's wider mode.
    fs.chmodSync(file, 0o600);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`config ${file}: cannot write (${code ?? String(error)})`, { cause: error });
  }
}

function validate(data: unknown, file: string): ConfigFile {
  const result = configSchema.safeParse(data);
  if (result.success) return result.data;
  throw new UsageError([`invalid config ${file}:`, ...formatIssues(result.error)].join('\n'), {
    // profile set / add read the file first, so only an edit can repair it.
    hint: 'edit the file by hand',
  });
}

/** V8 quotes the text around the error, which may be a credential; keep only where it is. */
function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /at position (\d+)/.exec(message);
  if (position?.[1] !== undefined) {
    const before = text.slice(0, Number(position[1]));
    const lineNo = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return `${message.replace(/ (?:in JSON )?at position \d+.*$/, '')} at line ${lineNo} column ${column}`;
  }
  return message.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
}
