import { dirname, isAbsolute, join } from 'node:path';
import { UsageError } from '../errors.js';
import { BUILTIN_PROVIDER_NAMES, isProviderName } from '../providers/names.js';
import type { Format } from '../sinks/types.js';
import { suggestName } from '../text/suggest.js';
import type { ConfigFile, Profile } from './schema.js';

/** Options a profile can set; the CLI gives each as a flag too. */
export interface ProfileFlags {
  baseUrl?: string | undefined;
  token?: string | undefined;
  apiKey?: string | undefined;
  pageSize?: number | undefined;
  rate?: number | undefined;
  concurrency?: number | undefined;
  retries?: number | undefined;
  timeout?: number | undefined;
  timezone?: string | undefined;
  /** 'sqlite': an archive (section 6) */
  format?: Format | 'sqlite' | undefined;
  output?: string | undefined;
  partition?: number | undefined;
  media?: boolean | undefined;
  mediaDir?: string | undefined;
  mediaMaxSize?: string | number | undefined;
}

export type Source = 'flag' | 'env' | 'profile' | 'default';

export interface ResolvedProfile {
  /** what --provider said: a profile name or a built-in provider */
  name: string;
  /** a built-in provider or a definition of the config's "providers" */
  provider: string;
  /** the profile the values came from, if any */
  profile: Profile | undefined;
  baseUrl: string | undefined;
  token: string | undefined;
  apiKey: string | undefined;
  pageSize: number | undefined;
  rate: number;
  concurrency: number;
  retries: number;
  timeout: number;
  timezone: string | undefined;
  format: Format | 'sqlite' | undefined;
  output: string;
  partition: number | undefined;
  media: boolean;
  mediaDir: string | undefined;
  mediaMaxSize: string | number | undefined;
  /** where each value came from (for --dry-run) */
  sources: Partial<Record<keyof ProfileFlags, Source>>;
}

export const DEFAULTS = { rate: 5, concurrency: 4, retries: 5, timeout: 30_000, output: '-' } as const;

/**
 * One place decides every option: flags > environment > profile > defaults.
 * A profile's own `tokenEnv`/`apiKeyEnv` variable outranks the generic
 * CHAT_EXPORT_TOKEN / CHAT_EXPORT_API_KEY: it was named for this profile.
 */
export function resolveProfile(
  providerFlag: string,
  flags: ProfileFlags,
  env: NodeJS.ProcessEnv,
  config: ConfigFile,
  builtinDefaults: (provider: string) => { baseUrl: string | undefined },
): ResolvedProfile {
  const profile = Object.hasOwn(config.profiles, providerFlag) ? config.profiles[providerFlag] : undefined;
  const providerName = profile?.provider ?? providerFlag;
  const definitions = config.providers ?? {};
  if (!isProviderName(providerName) && !Object.hasOwn(definitions, providerName)) {
    const profiles = Object.keys(config.profiles);
    const own = Object.keys(definitions);
    const known = `built-in providers: ${BUILTIN_PROVIDER_NAMES.join(', ')}${own.length ? `; defined in the config: ${own.join(', ')}` : ''}`;
    if (profile) {
      throw new UsageError(`profile "${providerFlag}" names unknown provider "${providerName}"`, { hint: known });
    }
    const guess = suggestName(providerFlag, [...BUILTIN_PROVIDER_NAMES, ...own, ...profiles]);
    throw new UsageError(`unknown provider or profile "${providerFlag}"${guess ? `; did you mean ${guess}?` : ''}`, {
      hint: `${known}; profiles: ${profiles.length ? profiles.join(', ') : '(none)'}`,
    });
  }
  const sources: ResolvedProfile['sources'] = {};
  const envValue = (name: string | undefined): string | undefined => {
    if (!name) return undefined;
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  function pick<K extends keyof ProfileFlags>(
    key: K,
    envCandidates: Array<string | undefined>,
    fallback: ProfileFlags[K],
  ): ProfileFlags[K] {
    if (flags[key] !== undefined) {
      sources[key] = 'flag';
      return flags[key];
    }
    for (const name of envCandidates) {
      const value = envValue(name);
      if (value !== undefined) {
        sources[key] = 'env';
        return value as ProfileFlags[K];
      }
    }
    const fromProfile = profile?.[key as keyof Profile] as ProfileFlags[K] | undefined;
    if (fromProfile !== undefined) {
      sources[key] = 'profile';
      return fromProfile;
    }
    if (fallback !== undefined) sources[key] = 'default';
    return fallback;
  }

  const defaults = builtinDefaults(providerName);
  return {
    name: providerFlag,
    provider: providerName,
    profile,
    baseUrl: pick('baseUrl', ['CHAT_EXPORT_BASE_URL'], defaults.baseUrl),
    token: pick('token', [profile?.tokenEnv, 'CHAT_EXPORT_TOKEN'], undefined),
    apiKey: pick('apiKey', [profile?.apiKeyEnv, 'CHAT_EXPORT_API_KEY'], undefined),
    pageSize: pick('pageSize', [], undefined),
    rate: pick('rate', [], DEFAULTS.rate)!,
    concurrency: pick('concurrency', [], DEFAULTS.concurrency)!,
    retries: pick('retries', [], DEFAULTS.retries)!,
    timeout: pick('timeout', [], DEFAULTS.timeout)!,
    timezone: pick('timezone', [], undefined),
    format: pick('format', [], undefined),
    output: pick('output', [], DEFAULTS.output)!,
    partition: pick('partition', [], undefined),
    media: pick('media', [], undefined) ?? false,
    mediaDir: pick('mediaDir', [], undefined),
    mediaMaxSize: pick('mediaMaxSize', [], undefined),
    sources,
  };
}

/**
 * A relative `output` saved in a profile means relative to the config file's
 * directory: a cron job runs in $HOME, an interactive shell anywhere, and the
 * profile must mean the same file for both. Flags and the environment stay
 * relative to the current directory, as every command line is.
 */
export function resolveProfileOutput(profile: ResolvedProfile, configPath: string): ResolvedProfile {
  if (profile.sources.output !== 'profile' || profile.output === '-' || isAbsolute(profile.output)) return profile;
  // join, not resolve: a trailing "/" (a directory of one file per channel) must stay.
  return { ...profile, output: join(dirname(configPath), profile.output) };
}
