import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath } from '../../src/commands/config.js';
import {
  profileAdd,
  profileList,
  profileRemove,
  profileSet,
  profileShow,
  profileUnset,
  type CommandContext,
  type ProfileAddOptions,
} from '../../src/commands/profile.js';
import { UsageError } from '../../src/errors.js';
import { redactProfile, redactSecret } from '../../src/profile/redact.js';
import { resolveConfigPath } from '../../src/profile/store.js';

const posix = process.platform !== 'win32';
const SECRET = 'tok_live_1234567890abcdef';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += String(chunk);
    done();
  }
}

interface TestContext extends CommandContext {
  stdout: Capture;
  stderr: Capture;
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'chat-export-profile-'));
  file = join(dir, 'conf', 'config.json');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function context(options: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): TestContext {
  return {
    configPath: file,
    stdout: new Capture(),
    stderr: new Capture(),
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: options.env ?? {},
  };
}

function stored(): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

async function usageError(run: () => unknown): Promise<UsageError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

const work: ProfileAddOptions = {
  provider: 'relation',
  baseUrl: 'https://api.relationlabs.ai',
  tokenEnv: 'RELATION_TOKEN',
  apiKeyEnv: 'RELATION_API_KEY',
  pageSize: 50,
  rate: 5,
  format: 'jsonl',
};

describe('redact', () => {
  it('keeps the last four characters of long secrets only', () => {
    expect(redactSecret(SECRET)).toBe('••••cdef');
    expect(redactSecret('abcdefghijkl')).toBe('••••ijkl');
    expect(redactSecret('abcdefghijk')).toBe('••••');
    expect(redactSecret('')).toBe('••••');
  });

  it('redacts token and apiKey and nothing else', () => {
    const profile = { provider: 'discuz', token: SECRET, apiKey: 'short', tokenEnv: 'X' };
    expect(redactProfile(profile)).toEqual({ provider: 'discuz', token: '••••cdef', apiKey: '••••', tokenEnv: 'X' });
    expect(profile.token).toBe(SECRET);
  });
});

describe('profile commands', () => {
  it('round-trips add, list, show and remove through a real config file', async () => {
    let ctx = context();
    await profileAdd('work', work, ctx);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toBe(`chat-export: saved profile "work" to ${file}\n`);
    const { provider, ...rest } = work;
    expect(stored()).toEqual({ profiles: { work: { provider, ...rest } } });

    await profileAdd('forum', { provider: 'discuz', rate: 1 }, context());

    ctx = context();
    profileList(ctx);
    expect(ctx.stdout.text).toBe('forum\tdiscuz\t(default)\nwork\trelation\thttps://api.relationlabs.ai\n');
    expect(ctx.stderr.text).toBe('');

    ctx = context({ env: { RELATION_TOKEN: 'env-secret-value-0001' } });
    profileShow('work', ctx);
    expect(JSON.parse(ctx.stdout.text)).toEqual(work);
    expect(ctx.stderr.text).toContain('tokenEnv RELATION_TOKEN is set');
    expect(ctx.stderr.text).toContain('apiKeyEnv RELATION_API_KEY is not set');
    expect(ctx.stdout.text + ctx.stderr.text).not.toContain('env-secret-value');

    ctx = context();
    await profileRemove('work', ctx);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toBe(`chat-export: removed profile "work" from ${file}\n`);
    await profileRemove('forum', context());

    ctx = context();
    profileList(ctx);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toContain('no profiles in');
    expect(stored()).toEqual({ profiles: {} });
  });

  it.runIf(posix)('writes the file 0600 in a 0700 directory', async () => {
    await profileAdd('work', work, context());
    expect(fs.statSync(join(dir, 'conf')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it.runIf(posix)('warns about a world-readable config and tightens it on save', async () => {
    fs.mkdirSync(join(dir, 'conf'));
    fs.writeFileSync(file, '{"profiles": {}}');
    fs.chmodSync(file, 0o644);

    const list = context();
    profileList(list);
    expect(list.stderr.text).toContain(`chmod 600 '${file}'`);

    const add = context();
    await profileAdd('work', work, add);
    expect(add.stderr.text).toMatch(/^chat-export: warning: config .* \(mode 0644\)/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const after = context();
    profileList(after);
    expect(after.stderr.text).toBe('');
  });

  it('never prints a stored secret', async () => {
    const outputs: string[] = [];
    const run = async (command: (ctx: TestContext) => unknown): Promise<TestContext> => {
      const ctx = context();
      await command(ctx);
      outputs.push(ctx.stdout.text, ctx.stderr.text);
      return ctx;
    };
    const add = await run((ctx) => profileAdd('work', { provider: 'relation', token: SECRET, apiKey: 'k-short' }, ctx));
    expect(add.stderr.text).toContain('warning: the credential is stored in plain text');
    await run((ctx) => profileList(ctx));
    const show = await run((ctx) => profileShow('work', ctx));
    expect(JSON.parse(show.stdout.text)).toEqual({ provider: 'relation', token: '••••cdef', apiKey: '••••' });
    await run((ctx) => configPath(ctx));
    await run((ctx) => profileRemove('work', ctx));

    for (const text of outputs) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('k-short');
    }
  });

  it('reads --token - from the first line of stdin', async () => {
    const ctx = context({ stdin: `  ${SECRET}  \nsecond line\n` });
    await profileAdd('work', { provider: 'relation', token: '-' }, ctx);
    expect(stored()).toEqual({ profiles: { work: { provider: 'relation', token: SECRET } } });
    expect(ctx.stdout.text + ctx.stderr.text).not.toContain(SECRET);

    await profileAdd('key', { provider: 'dishawang', apiKey: '-' }, context({ stdin: 'ak_0123456789' }));
    expect(stored()).toMatchObject({ profiles: { key: { provider: 'dishawang', apiKey: 'ak_0123456789' } } });
  });

  it('refuses an empty stdin, and reading stdin twice', async () => {
    expect((await usageError(() => profileAdd('work', { provider: 'relation', token: '-' }, context({ stdin: '\n' })))).message).toBe(
      '--token -: nothing on stdin',
    );
    await usageError(() => profileAdd('work', { provider: 'relation', token: '-', apiKey: '-' }, context({ stdin: 'a\nb\n' })));
    expect(fs.existsSync(file)).toBe(false);
  });

  it('only accepts known providers, and suggests the one a typo meant', async () => {
    const error = await usageError(() => profileAdd('work', { provider: 'nosuchchat' }, context()));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('unknown provider "nosuchchat"');
    expect(error.hint).toMatch(/^providers: relation, discuz, dishawang, slack, discord, mattermost, .*rocketchat/);
    expect((await usageError(() => profileAdd('work', { provider: 'relaton' }, context()))).message).toBe(
      'unknown provider "relaton"; did you mean relation?',
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a profile that would make a built-in name mean another provider', async () => {
    const error = await usageError(() => profileAdd('relation', { provider: 'discuz' }, context()));
    expect(error.message).toMatch(/profile named "relation" .* must use it, not "discuz"/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('validates the timezone when the profile is written', async () => {
    const error = await usageError(() => profileAdd('z2', { provider: 'dishawang', timezone: 'Mars/Phobos' }, context()));
    expect(error.message).toMatch(/--timezone: unknown timezone "Mars\/Phobos"/);
    expect(fs.existsSync(file)).toBe(false);
    await profileAdd('z2', { provider: 'dishawang', timezone: 'Asia/Tokyo' }, context());
  });

  it('validates profile names, and lets a profile shadow a built-in provider', async () => {
    for (const name of ['', '-x', 'a b', 'a/b', 'x'.repeat(65)]) {
      expect((await usageError(() => profileAdd(name, { provider: 'relation' }, context()))).message).toMatch(/^invalid profile name/);
    }
    const ctx = context();
    await profileAdd('relation', { provider: 'relation', baseUrl: 'https://staging.example.com' }, ctx);
    expect(ctx.stderr.text).toContain('profile "relation" now holds your settings for the built-in provider: --provider relation uses them');
    await profileAdd('a.b_c-9', { provider: 'discuz' }, context());
    await profileAdd('constructor', { provider: 'discuz' }, context());
    const list = context();
    profileList(list);
    expect(list.stdout.text.split('\n').map((line) => line.split('\t')[0])).toEqual(['a.b_c-9', 'constructor', 'relation', '']);
  });

  it('refuses to overwrite without --force', async () => {
    await profileAdd('work', work, context());
    const error = await usageError(() => profileAdd('work', { provider: 'discuz' }, context()));
    expect(error.message).toContain('already exists');
    expect(error.message).toContain('--force');
    expect(error.message).toContain('profile set work KEY VALUE');
    await profileAdd('work', { provider: 'discuz', force: true }, context());
    expect(stored()).toEqual({ profiles: { work: { provider: 'discuz' } } });
  });

  it('validates option values before saving, naming the flag', async () => {
    const cases: [ProfileAddOptions, string][] = [
      [{ provider: 'relation', baseUrl: 'nope' }, '--base-url: expected an http:// or https:// URL'],
      [{ provider: 'relation', rate: -1 }, '--rate: must be > 0'],
      [{ provider: 'relation', pageSize: 0 }, '--page-size: must be > 0'],
      [{ provider: 'relation', format: 'xml' }, '--format: expected one of jsonl, csv, md, html, sqlite'],
      [{ provider: 'relation', tokenEnv: 'not a var' }, '--token-env: expected an environment variable name like RELATION_TOKEN'],
      [{ provider: 'relation', token: '' }, '--token: must not be empty'],
    ];
    for (const [options, line] of cases) {
      const error = await usageError(() => profileAdd('work', options, context()));
      expect(error.message).toBe(`invalid profile "work":\n${line}`);
    }
    // Checked before stdin is read, so nobody pastes a secret for nothing.
    const stdin = context({ stdin: `${SECRET}\n` });
    await usageError(() => profileAdd('work', { provider: 'relation', token: '-', rate: 0 }, stdin));
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a literal credential together with its env variable', async () => {
    await usageError(() => profileAdd('work', { provider: 'relation', token: 'x', tokenEnv: 'X' }, context()));
    await usageError(() => profileAdd('work', { provider: 'relation', apiKey: 'x', apiKeyEnv: 'X' }, context()));
  });

  it('names the known profiles when one is missing', async () => {
    await profileAdd('work', work, context());
    await profileAdd('home', { provider: 'discuz' }, context());
    const show = await usageError(() => profileShow('nope', context()));
    expect(show.message).toBe(`unknown profile "nope"; profiles in ${file}: home, work`);
    const remove = await usageError(() => profileRemove('nope', context()));
    expect(remove.message).toBe(show.message);
    fs.rmSync(file);
    expect((await usageError(() => profileShow('relation', context()))).hint).toContain('built-in provider');
  });

  it('reports an invalid config file instead of overwriting it', async () => {
    fs.mkdirSync(join(dir, 'conf'));
    fs.writeFileSync(file, '{"profiles": {"work": {"provider": "relation", "colour": "red"}}}', { mode: 0o600 });
    const error = await usageError(() => profileAdd('home', { provider: 'discuz' }, context()));
    expect(error.message).toBe(`invalid config ${file}:\nprofiles.work.colour: unrecognized key`);
    expect(fs.readFileSync(file, 'utf8')).toContain('colour');
  });
});

describe('config path', () => {
  it('prints the config file in force', () => {
    const ctx = context();
    ctx.configPath = resolveConfigPath(join(dir, 'flag.json'), { CHAT_EXPORT_CONFIG: join(dir, 'env.json') });
    configPath(ctx);
    expect(ctx.stdout.text).toBe(`${join(dir, 'flag.json')}\n`);

    const fromEnv = context();
    fromEnv.configPath = resolveConfigPath(undefined, { CHAT_EXPORT_CONFIG: join(dir, 'env.json') });
    configPath(fromEnv);
    expect(fromEnv.stdout.text).toBe(`${join(dir, 'env.json')}\n`);
    expect(fs.existsSync(join(dir, 'env.json'))).toBe(false);
  });

  describe('profile set / unset', () => {
    it('rotates a token and keeps every other key (add --force would drop them)', async () => {
      await profileAdd('forum', { provider: 'discuz', baseUrl: 'https://bbs.example.com', token: 'old-token-0000000', pageSize: 20 }, context());
      await profileSet('forum', 'token', '-', context({ stdin: 'new-token-1111111\n' }));
      expect(stored()).toEqual({
        profiles: { forum: { provider: 'discuz', baseUrl: 'https://bbs.example.com', token: 'new-token-1111111', pageSize: 20 } },
      });
    });

    it('takes camelCase or flag spelling, parses numbers, validates like add, suggests key names', async () => {
      await profileAdd('work', { provider: 'relation' }, context());
      await profileSet('work', '--page-size', '100', context());
      await profileSet('work', 'base-url', 'https://api.example.com', context());
      expect(stored()).toEqual({ profiles: { work: { provider: 'relation', pageSize: 100, baseUrl: 'https://api.example.com' } } });
      expect((await usageError(() => profileSet('work', 'pagesize', '5', context()))).message).toBe('unknown profile key "pagesize"; did you mean pageSize?');
      expect((await usageError(() => profileSet('work', 'rate', 'fast', context()))).message).toMatch(/profiles\.work\.rate: expected a number/);
      // refused before writing, named by its key (not "invalid config FILE … edit the file by hand")
      expect((await usageError(() => profileSet('work', 'rate', '0', context()))).message).toBe('not saved:\nprofiles.work.rate: must be > 0');
      expect((await usageError(() => profileSet('work', 'timezone', 'Mars/Phobos', context()))).message).toMatch(/profiles\.work\.timezone: unknown timezone/);
      expect((await usageError(() => profileSet('work', 'provider', 'relaton', context()))).message).toMatch(
        /profiles\.work\.provider: unknown provider "relaton" \(did you mean relation\?\)/,
      );
      expect((await usageError(() => profileSet('nope', 'rate', '1', context()))).message).toMatch(/^unknown profile "nope"/);
      // nothing of the refused changes reached the file
      expect(stored()).toEqual({ profiles: { work: { provider: 'relation', pageSize: 100, baseUrl: 'https://api.example.com' } } });
    });

    it('a stored token and a token variable do not coexist', async () => {
      await profileAdd('work', { provider: 'relation', tokenEnv: 'WORK_TOKEN' }, context());
      await profileSet('work', 'token', 'a-stored-token-123', context());
      expect(stored()).toEqual({ profiles: { work: { provider: 'relation', token: 'a-stored-token-123' } } });
    });

    it('unset removes one key; the provider cannot be unset', async () => {
      await profileAdd('work', { provider: 'relation', pageSize: 10, rate: 2 }, context());
      await profileUnset('work', 'pageSize', context());
      expect(stored()).toEqual({ profiles: { work: { provider: 'relation', rate: 2 } } });
      await usageError(() => profileUnset('work', 'provider', context()));
    });
  });
});

describe('a relative output saved in a profile', () => {
  it('is stored absolute (from where the command ran), a trailing / kept, and said', async () => {
    const add = context();
    await profileAdd('nightly', { provider: 'relation', output: 'backups/' }, add);
    const set = context();
    await profileSet('nightly', 'output', 'one.jsonl', set);
    await profileAdd('dir', { provider: 'relation', output: 'a/../b/' }, context());
    await profileAdd('abs', { provider: 'relation', output: '/srv/chat/{channel}.jsonl' }, context());
    await profileAdd('out', { provider: 'relation', output: '-' }, context());
    const profiles = (stored() as { profiles: Record<string, { output: string }> }).profiles;
    expect(profiles.nightly!.output).toBe(join(process.cwd(), 'one.jsonl'));
    expect(profiles.dir!.output).toBe(join(process.cwd(), 'b') + '/');
    expect(profiles.abs!.output).toBe('/srv/chat/{channel}.jsonl');
    expect(profiles.out!.output).toBe('-');
    expect(add.stderr.text).toContain(`output backups/ is stored as ${join(process.cwd(), 'backups')}/`);
    expect(set.stderr.text).toContain(`is stored as ${join(process.cwd(), 'one.jsonl')}`);
  });
});
