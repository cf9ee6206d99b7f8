import { isAbsolute, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { redactProfile } from '../profile/redact.js';
import { configSchema, profileSchema, type ConfigFile, type Profile } from '../profile/schema.js';
import { formatIssues } from '../text/schema-issues.js';
import { loadConfig, saveConfig } from '../profile/store.js';
import { BUILTIN_PROVIDER_NAMES } from '../providers/names.js';
import { registerSecret } from '../text/sanitize.js';
import { suggestName } from '../text/suggest.js';

export interface CommandContext {
  configPath: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export interface ProfileAddOptions {
  provider: string;
  baseUrl?: string;
  /** `-` reads it from the first line of stdin. */
  token?: string;
  /** `-` reads it from the first line of stdin. */
  apiKey?: string;
  tokenEnv?: string;
  apiKeyEnv?: string;
  pageSize?: number;
  rate?: number;
  concurrency?: number;
  retries?: number;
  timeout?: number;
  timezone?: string;
  format?: string;
  output?: string;
  force?: boolean;
}

export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function profileAdd(name: string, options: ProfileAddOptions, ctx: CommandContext): Promise<void> {
  const log = createLogger('normal', ctx.stderr);
  if (!PROFILE_NAME.test(name)) {
    throw new UsageError(
      `invalid profile name "${name}": use up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  if (options.token === '-' && options.apiKey === '-') {
    throw new UsageError('only one of --token - and --api-key - can read stdin');
  }
  if (options.token !== undefined && options.tokenEnv !== undefined) {
    throw new UsageError('give --token or --token-env, not both');
  }
  if (options.apiKey !== undefined && options.apiKeyEnv !== undefined) {
    throw new UsageError('give --api-key or --api-key-env, not both');
  }

  const config = loadConfig(ctx.configPath, (line) => log.warn(line));
  const known = [...BUILTIN_PROVIDER_NAMES, ...Object.keys(config.providers ?? {})];
  if (!known.includes(options.provider)) {
    const guess = suggestName(options.provider, known);
    throw new UsageError(`unknown provider "${options.provider}"${guess ? `; did you mean ${guess}?` : ''}`, {
      hint: `providers: ${known.join(', ')}`,
    });
  }
  if (isBuiltinProvider(name) && options.provider !== name) {
    throw new UsageError(`a profile named "${name}" holds settings for the built-in provider "${name}" and must use it, not "${options.provider}"`, {
      hint: 'choose another profile name',
    });
  }
  if (Object.hasOwn(config.profiles, name) && !options.force) {
    throw new UsageError(
      `profile "${name}" already exists in ${ctx.configPath}: "chat-export profile set ${name} KEY VALUE" changes one key; --force replaces the whole profile (keys not given are dropped)`,
    );
  }

  const { force: _force, ...fields } = options;
  const parsed = profileSchema.safeParse(definedOnly(fields));
  if (!parsed.success) {
    // Report against the flags the user typed, not the config keys.
    const lines = formatIssues(parsed.error).map((line) => line.replace(/^[A-Za-z]+(?=:)/, toFlag));
    throw new UsageError([`invalid profile "${name}":`, ...lines].join('\n'));
  }
  // Validated before reading stdin so that nobody pastes a secret only to hit a typo.
  const profile = parsed.data;
  if (profile.token === '-') profile.token = await readSecret(ctx, '--token', 'token');
  if (profile.apiKey === '-') profile.apiKey = await readSecret(ctx, '--api-key', 'API key');
  registerSecret(profile.token);
  registerSecret(profile.apiKey);
  if (profile.output !== undefined) profile.output = absoluteOutput(profile.output, log);

  config.profiles[name] = profile;
  await saveConfig(ctx.configPath, config);

  if (isBuiltinProvider(name)) log.info(`profile "${name}" now holds your settings for the built-in provider: --provider ${name} uses them`);
  if (profile.token !== undefined || profile.apiKey !== undefined) {
    log.warn(
      `the credential is stored in plain text in ${ctx.configPath}; --token-env / --api-key-env NAME (an environment variable) keeps it out of the file`,
    );
  }
  log.info(`saved profile "${name}" to ${ctx.configPath}`);
}

/**
 * A relative `-o` typed with `profile add/set` means relative to where it was
 * typed; read back by a cron job it would mean somewhere else. Stored absolute
 * (a trailing / kept: a directory of one file per channel), and said.
 */
function absoluteOutput(output: string, log: ReturnType<typeof createLogger>): string {
  if (output === '-' || isAbsolute(output)) return output;
  const trailing = output.endsWith('/') || output.endsWith(sep) ? sep : '';
  const absolute = resolve(output) + (resolve(output).endsWith(sep) ? '' : trailing);
  log.info(`output ${output} is stored as ${absolute} (a profile is read from anywhere, so relative paths are made absolute)`);
  return absolute;
}

/** The keys `profile set` accepts, and which of them hold numbers. */
const SETTABLE_KEYS = Object.keys(profileSchema.shape) as Array<keyof Profile>;
const NUMBER_KEYS = new Set<string>(['pageSize', 'rate', 'concurrency', 'retries', 'timeout']);

/** `--base-url`, `base-url` and `baseUrl` all name the profile key baseUrl. */
function profileKey(input: string): keyof Profile {
  const key = input.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  if ((SETTABLE_KEYS as string[]).includes(key)) return key as keyof Profile;
  const guess = suggestName(key, SETTABLE_KEYS);
  throw new UsageError(`unknown profile key "${input}"${guess ? `; did you mean ${guess}?` : ''}`, {
    hint: `keys: ${SETTABLE_KEYS.join(', ')}`,
  });
}

/**
 * Changes one key of a saved profile and keeps the others: rotating a token
 * must not drop the baseUrl. `token -` / `apiKey -` read stdin.
 */
export async function profileSet(name: string, keyInput: string, value: string, ctx: CommandContext): Promise<void> {
  const log = createLogger('normal', ctx.stderr);
  const key = profileKey(keyInput);
  const config = loadConfig(ctx.configPath, (line) => log.warn(line));
  const profile = { ...findProfile(config, name, ctx.configPath) } as Record<string, unknown>;
  let parsed: unknown = value;
  if (NUMBER_KEYS.has(key)) {
    parsed = value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(parsed)) throw new UsageError(`profiles.${name}.${key}: expected a number, got ${JSON.stringify(value)}`);
  }
  if (value === '-' && (key === 'token' || key === 'apiKey')) parsed = await readSecret(ctx, key, key === 'token' ? 'token' : 'API key');
  if (typeof parsed === 'string') registerSecret(key === 'token' || key === 'apiKey' ? parsed : undefined);
  if (key === 'output' && typeof parsed === 'string') parsed = absoluteOutput(parsed, log);
  profile[key] = parsed;
  // A stored secret and a variable for it would leave two answers to "which one is used?".
  if (key === 'token') delete profile.tokenEnv;
  if (key === 'tokenEnv') delete profile.token;
  if (key === 'apiKey') delete profile.apiKeyEnv;
  if (key === 'apiKeyEnv') delete profile.apiKey;
  config.profiles[name] = profile as Profile;
  checkBeforeSaving(config);
  await saveConfig(ctx.configPath, config);
  if (key === 'token' || key === 'apiKey') {
    log.warn(`the credential is stored in plain text in ${ctx.configPath}; tokenEnv / apiKeyEnv (an environment variable) keeps it out of the file`);
  }
  log.info(`profile "${name}": set ${key}`);
}

/** Removes one key of a saved profile (the provider default or the environment applies again). */
export async function profileUnset(name: string, keyInput: string, ctx: CommandContext): Promise<void> {
  const log = createLogger('normal', ctx.stderr);
  const key = profileKey(keyInput);
  if (key === 'provider') throw new UsageError('a profile needs its provider: use profile set NAME provider P, or profile remove NAME');
  const config = loadConfig(ctx.configPath, (line) => log.warn(line));
  const profile = { ...findProfile(config, name, ctx.configPath) };
  if (profile[key] === undefined) {
    log.info(`profile "${name}" has no ${key}`);
    return;
  }
  delete profile[key];
  config.profiles[name] = profile;
  checkBeforeSaving(config);
  await saveConfig(ctx.configPath, config);
  log.info(`profile "${name}": unset ${key}`);
}

/** A change the schema refuses is named by its key and never reaches the file. */
function checkBeforeSaving(config: ConfigFile): void {
  const result = configSchema.safeParse(config);
  if (!result.success) throw new UsageError(['not saved:', ...formatIssues(result.error)].join('\n'));
}

export function profileList(ctx: CommandContext): void {
  const log = createLogger('normal', ctx.stderr);
  const config = loadConfig(ctx.configPath, (line) => log.warn(line));
  const names = Object.keys(config.profiles).sort();
  if (names.length === 0) {
    log.info(`no profiles in ${ctx.configPath}; add one with: chat-export profile add NAME --provider relation`);
    return;
  }
  for (const name of names) {
    const profile = config.profiles[name]!;
    ctx.stdout.write(`${name}\t${profile.provider}\t${redactProfile(profile).baseUrl ?? '(default)'}\n`);
  }
}

export function profileShow(name: string, ctx: CommandContext): void {
  const log = createLogger('normal', ctx.stderr);
  const config = loadConfig(ctx.configPath, (line) => log.warn(line));
  const profile = findProfile(config, name, ctx.configPath);
  ctx.stdout.write(`${JSON.stringify(redactProfile(profile), null, 2)}\n`);
  // Only whether it is set: the value is the secret.
  for (const key of ['tokenEnv', 'apiKeyEnv'] as const) {
    const variable = profile[key];
    if (variable !== undefined) {
      log.info(`${key} ${variable} is ${ctx.env[variable] ? 'set' : 'not set'} in this environment`);
    }
  }
}

export async function profileRemove(name: string, ctx: CommandContext): Promise<void> {
  const log = createLogger('normal', ctx.stderr);
  const config = loadConfig(ctx.configPath, (line) => log.warn(line));
  findProfile(config, name, ctx.configPath);
  delete config.profiles[name];
  await saveConfig(ctx.configPath, config);
  log.info(`removed profile "${name}" from ${ctx.configPath}`);
}

function findProfile(config: ConfigFile, name: string, configPath: string): Profile {
  // hasOwn: "constructor" and friends are valid profile names, not prototype lookups.
  if (Object.hasOwn(config.profiles, name)) return config.profiles[name]!;
  const names = Object.keys(config.profiles).sort();
  const known = names.length > 0 ? `profiles in ${configPath}: ${names.join(', ')}` : `${configPath} has no profiles`;
  throw new UsageError(`unknown profile "${name}"; ${known}`, {
    hint: isBuiltinProvider(name) ? `"${name}" is a built-in provider, not a profile: see "chat-export providers"` : undefined,
  });
}

function isBuiltinProvider(name: string): boolean {
  return (BUILTIN_PROVIDER_NAMES as readonly string[]).includes(name);
}

function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

function toFlag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `--token -` / `--api-key -` (dump as profile add): the value is the first line of stdin. */
export async function readSecretFlags<T extends { token?: string | undefined; apiKey?: string | undefined }>(
  options: T,
  ctx: Pick<CommandContext, 'stdin' | 'stderr'>,
): Promise<T> {
  if (options.token === '-' && options.apiKey === '-') throw new UsageError('only one of --token - and --api-key - can read stdin');
  const out = { ...options };
  if (out.token === '-') out.token = await readSecret(ctx, '--token', 'token');
  if (out.apiKey === '-') out.apiKey = await readSecret(ctx, '--api-key', 'API key');
  return out;
}

async function readSecret(ctx: Pick<CommandContext, 'stdin' | 'stderr'>, flag: string, what: string): Promise<string> {
  if ((ctx.stdin as { isTTY?: boolean }).isTTY) ctx.stderr.write(`paste the ${what} and press Enter: `);
  const value = await readFirstLine(ctx.stdin);
  if (value === '') throw new UsageError(`${flag} -: nothing on stdin`);
  return value;
}

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    // Stop at the first newline: an interactive paste has no end of file.
    if (text.includes('\n')) break;
  }
  return (text.split('\n', 1)[0] ?? '').trim();
}
