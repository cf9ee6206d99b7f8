import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';

export type OutputPlan =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'directory'; dir: string };

/** `-` is stdout; an existing directory or a path ending in `/` is a directory; else a file. */
export function planOutput(output: string): OutputPlan {
  if (output === '-' || output === '') return { kind: 'stdout' };
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

export function channelFilePath(dir: string, provider: string, channel: string, ext: string): string {
  const path = resolve(dir, channelFileName(provider, channel, ext));
  if (!path.startsWith(resolve(dir) + sep)) {
    throw new UsageError(`channel id ${JSON.stringify(channel)} would write outside ${dir}`);
  }
  return path;
}
