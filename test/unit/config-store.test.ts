import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/errors.js';
import type { ConfigFile } from '../../src/profile/schema.js';
import { defaultStateDir, loadConfig, resolveConfigPath, saveConfig } from '../../src/profile/store.js';

const posix = process.platform !== 'win32';
const SECRET = 'tok_live_1234567890abcdef';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'chat-export-store-'));
});
afterEach(() => {
  vi.unstubAllEnvs();
  fs.rmSync(dir, { recursive: true, force: true });
});

function mode(path: string): number {
  return fs.statSync(path).mode & 0o777;
}

function write(path: string, content: unknown, fileMode = 0o600): string {
  fs.writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  fs.chmodSync(path, fileMode);
  return path;
}

/** The UsageError loadConfig throws, or a failure. */
function loadError(path: string): UsageError {
  try {
    loadConfig(path, () => {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('loadConfig did not throw');
}

describe('resolveConfigPath', () => {
  it('prefers --config over CHAT_EXPORT_CONFIG', () => {
    const env = { CHAT_EXPORT_CONFIG: join(dir, 'env.json') };
    expect(resolveConfigPath(join(dir, 'flag.json'), env)).toBe(join(dir, 'flag.json'));
    expect(resolveConfigPath(undefined, env)).toBe(join(dir, 'env.json'));
  });

  it('returns absolute paths for relative input', () => {
    expect(resolveConfigPath('rel/config.json', {})).toBe(join(process.cwd(), 'rel/config.json'));
    expect(resolveConfigPath(undefined, { CHAT_EXPORT_CONFIG: 'x.json' })).toBe(join(process.cwd(), 'x.json'));
  });

  it('rejects an empty --config and ignores an empty CHAT_EXPORT_CONFIG', () => {
    expect(() => resolveConfigPath('', {})).toThrow(UsageError);
    expect(resolveConfigPath(undefined, { CHAT_EXPORT_CONFIG: '' })).toMatch(/config\.json$/);
  });

  it.runIf(process.platform === 'linux')("defaults to conf's per-user location without creating it", () => {
    vi.stubEnv('XDG_CONFIG_HOME', join(dir, 'xdg'));
    const path = resolveConfigPath(undefined, {});
    expect(path).toBe(join(dir, 'xdg', 'chat-export-nodejs', 'config.json'));
    expect(fs.existsSync(join(dir, 'xdg'))).toBe(false);
  });

  it('puts state beside the config', () => {
    expect(defaultStateDir(join(dir, 'config.json'))).toBe(join(dir, 'state'));
  });
});

describe('loadConfig', () => {
  it('treats a missing file as empty and creates nothing', () => {
    const path = join(dir, 'a', 'b', 'config.json');
    expect(loadConfig(path, () => {})).toEqual({ profiles: {} });
    expect(fs.existsSync(join(dir, 'a'))).toBe(false);
  });

  it('treats a blank file as empty', () => {
    expect(loadConfig(write(join(dir, 'c.json'), ' \n'), () => {})).toEqual({ profiles: {} });
  });

  it('reads a valid config and fills in profiles', () => {
    const profile = { provider: 'relation', baseUrl: 'https://api.relationlabs.ai', tokenEnv: 'RELATION_TOKEN', pageSize: 50, rate: 5, format: 'jsonl' };
    expect(loadConfig(write(join(dir, 'c.json'), { profiles: { work: profile } }), () => {})).toEqual({ profiles: { work: profile } });
    expect(loadConfig(write(join(dir, 'd.json'), {}), () => {})).toEqual({ profiles: {} });
  });

  it('reports invalid JSON with its location and without quoting the file', () => {
    const path = write(join(dir, 'c.json'), `{\n  "profiles": {\n    "work": { "token": ${SECRET} }`);
    const error = loadError(path);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(new RegExp(`^config ${path}: not valid JSON \\(.+\\)$`));
    expect(error.message).not.toContain('tok_live');

    const trailing = loadError(write(join(dir, 'd.json'), '{"profiles": {},\n}'));
    expect(trailing.message).toBe(`config ${join(dir, 'd.json')}: not valid JSON (Expected double-quoted property name at line 2 column 1)`);
  });

  it.each([
    ['wrong type', { work: { provider: 'relation', rate: '5' } }, ['profiles.work.rate: expected number, received string']],
    ['unknown key', { work: { provider: 'relation', colour: 'red' } }, ['profiles.work.colour: unrecognized key']],
    ['bad url', { work: { provider: 'relation', baseUrl: 'not a url' } }, ['profiles.work.baseUrl: expected an http:// or https:// URL']],
    ['non-http url', { work: { provider: 'relation', baseUrl: 'ftp://example.com' } }, ['profiles.work.baseUrl: expected an http:// or https:// URL']],
    ['negative rate', { work: { provider: 'relation', rate: -1 } }, ['profiles.work.rate: must be > 0']],
    ['unknown format', { work: { provider: 'relation', format: 'xml' } }, ['profiles.work.format: expected one of jsonl, csv, md, html, sqlite']],
    ['missing provider', { work: {} }, ['profiles.work.provider: required']],
    ['fractional page size', { work: { provider: 'relation', pageSize: 1.5 } }, ['profiles.work.pageSize: expected an integer']],
    ['negative retries', { work: { provider: 'relation', retries: -1 } }, ['profiles.work.retries: must be >= 0']],
    ['bad env var name', { work: { provider: 'relation', tokenEnv: 'my token' } }, ['profiles.work.tokenEnv: expected an environment variable name like RELATION_TOKEN']],
    [
      'several problems',
      { work: { provider: 'relation', rate: 'fast', colour: 1, size: 2 } },
      ['profiles.work.rate: expected number, received string', 'profiles.work.colour: unrecognized key', 'profiles.work.size: unrecognized key'],
    ],
  ])('reports %s one line per problem', (_kind, profiles, lines) => {
    const path = write(join(dir, 'c.json'), { profiles });
    const error = loadError(path);
    expect(error.exitCode).toBe(2);
    expect(error.message.split('\n')).toEqual([`invalid config ${path}:`, ...lines]);
  });

  it('names unknown top-level keys and a non-object root', () => {
    const path = write(join(dir, 'c.json'), { profiles: {}, profile: {} });
    expect(loadError(path).message).toBe(`invalid config ${path}:\nprofile: unrecognized key`);
    write(path, '[]');
    expect(loadError(path).message).toBe(`invalid config ${path}:\nexpected object, received array`);
  });

  it('never prints an offending value', () => {
    const path = write(join(dir, 'c.json'), { profiles: { work: { provider: 'relation', token: 1234567890, baseUrl: SECRET } } });
    const error = loadError(path);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('1234567890');
    expect(error.message).toContain('profiles.work.token: expected string, received number');
  });

  it.runIf(posix)('warns when the file is readable by others, and says how to fix it', async () => {
    const path = write(join(dir, 'c.json'), { profiles: {} }, 0o644);
    const warnings: string[] = [];
    loadConfig(path, (line) => warnings.push(line));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(path);
    expect(warnings[0]).toContain('0644');
    expect(warnings[0]).toContain(`chmod 600 '${path}'`);

    fs.chmodSync(path, 0o600);
    warnings.length = 0;
    loadConfig(path, (line) => warnings.push(line));
    expect(warnings).toEqual([]);
  });
});

describe('saveConfig', () => {
  const config: ConfigFile = {
    profiles: { work: { provider: 'relation', tokenEnv: 'RELATION_TOKEN', rate: 2 } },
  };

  it.runIf(posix)('creates a missing directory 0700 and the file 0600, and round-trips', async () => {
    const path = join(dir, 'nested', 'deeper', 'config.json');
    await saveConfig(path, config);
    expect(mode(join(dir, 'nested', 'deeper'))).toBe(0o700);
    expect(mode(path)).toBe(0o600);
    expect(loadConfig(path, () => {})).toEqual(config);
    // The rename left no temp file behind.
    expect(fs.readdirSync(join(dir, 'nested', 'deeper'))).toEqual(['config.json']);
  });

  it.runIf(posix)('tightens an existing 0644 file to 0600 and leaves an existing directory alone', async () => {
    fs.chmodSync(dir, 0o755);
    const path = write(join(dir, 'config.json'), { profiles: {} }, 0o644);
    const before = fs.statSync(path).ino;
    await saveConfig(path, config);
    expect(mode(path)).toBe(0o600);
    // A new inode: the file was replaced by a rename, not rewritten in place.
    expect(fs.statSync(path).ino).not.toBe(before);
    expect(mode(dir)).toBe(0o755);
    expect(JSON.parse(fs.readFileSync(path, 'utf8'))).toEqual(config);
  });

  it('writes exactly the path given, whatever its extension', async () => {
    for (const name of ['settings', 'my.config.json', '.chat-export.conf']) {
      const path = join(dir, name);
      await saveConfig(path, config);
      expect(loadConfig(path, () => {})).toEqual(config);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['.chat-export.conf', 'my.config.json', 'settings']);
  });

  it('replaces a file that is not valid JSON', async () => {
    const path = write(join(dir, 'config.json'), '{ broken');
    await saveConfig(path, config);
    expect(loadConfig(path, () => {})).toEqual(config);
  });

  it('refuses to write an invalid config', async () => {
    const path = join(dir, 'config.json');
    const bad = { profiles: { work: { provider: 'relation', rate: -1 } } } as ConfigFile;
    await expect(saveConfig(path, bad)).rejects.toThrow(`invalid config ${path}:\nprofiles.work.rate: must be > 0`);
    expect(fs.existsSync(path)).toBe(false);
  });
});
