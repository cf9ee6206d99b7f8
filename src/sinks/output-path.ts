import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { suggestName } from '../text/suggest.js';

export type OutputPlan =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'directory'; dir: string }
  | { kind: 'template'; pattern: string };

const TOKENS = ['profile', 'provider', 'host', 'channel', 'name', 'ext'] as const;
const TOKEN = /\{(profile|provider|host|channel|name|ext)\}/g;

/**
 * `-` is stdout; a path with `{profile}` `{provider}` `{host}` `{channel}` or
 * `{ext}` is a template; an existing directory or a path ending in `/` is a
 * directory; else a file.
 */
export function planOutput(output: string): OutputPlan {
  if (output === '-' || output === '') return { kind: 'stdout' };
  refuseUnknownPlaceholders(output);
  if (TOKENS.some((token) => output.includes(`{${token}}`))) return { kind: 'template', pattern: resolve(output) };
  if (output.endsWith('/') || output.endsWith(sep)) return { kind: 'directory', dir: resolve(output) };
  // ENOTDIR (a file where a directory must be) and the like are reported by the path probes.
  let info: ReturnType<typeof statSync> | undefined;
  try {
    info = statSync(output, { throwIfNoEntry: false });
  } catch {
    info = undefined;
  }
  if (info?.isDirectory()) return { kind: 'directory', dir: resolve(output) };
  return { kind: 'file', path: resolve(output) };
}

/**
 * `{chanel}` would otherwise name one file literally `{chanel}.jsonl` and hold
 * every channel's export in turn: a typo in a template is a usage error.
 */
function refuseUnknownPlaceholders(output: string): void {
  for (const [, word] of output.matchAll(/\{([A-Za-z][A-Za-z0-9_]*)\}/g)) {
    if ((TOKENS as readonly string[]).includes(word!)) continue;
    const near = suggestName(word!, TOKENS);
    throw new UsageError(`-o ${output}: unknown placeholder {${word}}${near ? ` (did you mean {${near}}?)` : ''}`, {
      hint: `a template may use ${TOKENS.map((token) => `{${token}}`).join(' ')}`,
    });
  }
}

const MAX_NAME_BYTES = 200;

/**
 * `{provider}-{channel}.{ext}` inside `dir`. Channel ids come from the user
 * and the server alike, so every byte outside [A-Za-z0-9_.-] is %-encoded
 * (keeping distinct ids distinct), dots alone cannot climb (`..`), and very
 * long ids are cut and suffixed with a hash.
 */
export function channelFileName(provider: string, channel: string, ext: string): string {
  let safe = Array.from(Buffer.from(channel, 'utf8'))
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9_.-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  safe = safe.replace(/^\.+/, (dots) => '%2E'.repeat(dots.length));
  let name = `${provider}-${safe}`;
  if (Buffer.byteLength(name) + ext.length + 1 > MAX_NAME_BYTES) {
    const hash = createHash('sha256').update(channel).digest('hex').slice(0, 16);
    name = `${name.slice(0, MAX_NAME_BYTES - ext.length - 18)}~${hash}`;
  }
  return `${name}.${ext}`;
}

/** Any text as one safe file-name segment: the same %-encoding as channel ids. */
export function safeSegment(text: string): string {
  const safe = Array.from(Buffer.from(text, 'utf8'))
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9_.-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return safe.replace(/^\.+/, (dots) => '%2E'.repeat(dots.length));
}

export interface OutputNaming {
  /** the profile name (what --provider said) */
  profile: string;
  provider: string;
  /** host of the API root */
  host: string;
  channel: string;
  /** the channel's name as a listing gave it, already safe for a file name and unique in the run (`{name}`) */
  name?: string | undefined;
  peer: boolean;
  ext: string;
}

/**
 * Where one channel goes: `{profile}-{channel}.{ext}` (peers
 * `{profile}-peer-{id}.{ext}`) in a directory, or the template filled in with
 * every value %-encoded so none can add a path level; undefined for stdout.
 */
export function outputPathFor(output: OutputPlan, naming: OutputNaming): string | undefined {
  switch (output.kind) {
    case 'stdout':
      return undefined;
    case 'file':
      return output.path;
    case 'directory':
      return channelFilePath(output.dir, `${safeSegment(naming.profile)}${naming.peer ? '-peer' : ''}`, naming.channel, naming.ext);
    case 'template': {
      const values: Record<string, string> = {
        profile: safeSegment(naming.profile),
        provider: safeSegment(naming.provider),
        // `127.0.0.1:8065` → `127.0.0.1_8065`, not `…%3A8065`: readable, and a `:` in a path means a remote host to rsync and scp
        host: safeSegment(naming.host.replace(/:(\d+)$/, '_$1')),
        channel: (naming.peer ? 'peer-' : '') + channelFileName('', naming.channel, 'x').slice(1, -2),
        // a channel named by id only (--channel): its id, encoded as {channel} is
        name: naming.name ?? (naming.peer ? 'peer-' : '') + channelFileName('', naming.channel, 'x').slice(1, -2),
        ext: naming.ext,
      };
      return output.pattern.replace(TOKEN, (_, token: string) => values[token]!);
    }
  }
}

export function channelFilePath(dir: string, provider: string, channel: string, ext: string): string {
  const path = resolve(dir, channelFileName(provider, channel, ext));
  if (!path.startsWith(resolve(dir) + sep)) {
    throw new UsageError(`channel id ${JSON.stringify(channel)} would write outside ${dir}`);
  }
  return path;
}
