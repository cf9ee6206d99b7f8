import { Command, InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { version } = require('../package.json') as { version: string };

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function number(flag: string, integer: boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${flag} needs a ${integer ? 'whole ' : ''}number, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

/** "error: unknown option '--tokn'\n(Did you mean --token?)\n" → one line of ours. */
export function formatCommanderError(text: string): string {
  const [first = '', ...rest] = text.trim().split('\n');
  const suggestion = rest.join(' ').replace(/^\((.*)\)$/, '$1').replace(/^Did you/, 'did you');
  const what = first.replace(/^error: /, '');
  return `chat-export: ${what}${suggestion ? `; ${suggestion}` : ''} — see --help for usage`;
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

const DUMP_HELP = `${examples(
  'chat-export dump --provider relation --channel 4f326124812c41448bc587bf6b2eaf42 | jq -r .text',
  'chat-export dump --provider discuz --base-url https://bbs.example.com --channel 12 -o backups/ --format md',
  'chat-export dump --provider dishawang --channel 26 --since 7d -o dishawang-26.csv',
  'chat-export dump --provider work --channel C1 --channel C2 --incremental -o /srv/chat/ -q',
  'printf \'%s\\n\' "$TOKEN" | chat-export dump --provider relation --channel C1 --token - -o c1.jsonl',
)}
Environment:
  CHAT_EXPORT_TOKEN     token (a profile's own "tokenEnv" variable comes first)
  CHAT_EXPORT_API_KEY   API key (a profile's own "apiKeyEnv" variable comes first)
  CHAT_EXPORT_BASE_URL  API root
  CHAT_EXPORT_CONFIG    config file (as --config)
  TZ                    the zone Markdown transcripts show times in (see --tz)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   proxies, as curl reads them (lower-case names win)

Exit codes:
  0      every message of every channel exported (also when nothing was new)
  2      usage or config error, found before any request (bad flag, missing credential, unusable path)
  3      authentication or permission refused (HTTP 401/403, relation 10120)
  4      remote failure after retries (network, 5xx, malformed responses)
  5      incomplete: some channels failed, or messages are known to be missing (each named on stderr)
  6      local I/O failure during the run (disk full, permission); earlier output intact, checkpoint kept
  128+N  ended by signal N (INT 130, TERM 143, HUP 129); checkpoints saved
  141    stdout closed by the reader (| head)
`;

/** The command line; each command's code is imported only when it runs. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('chat-export')
    .description('Back up chat histories (built-in providers, or any API from a definition in the config) to JSONL, CSV, Markdown, HTML or a SQLite archive')
    .version(version, '-V, --version')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // commander's own errors look like ours: one line, `chat-export: ` first, the hint after " — ".
      outputError: (text, write) => write(`${formatCommanderError(text)}\n`),
    })
    .exitOverride()
    // also before the command: `chat-export --config FILE profile list`
    .option('--config <path>', 'config file (default: CHAT_EXPORT_CONFIG, else the per-user location)')
    .addHelpText(
      'after',
      examples(
        'chat-export providers',
        'chat-export dump --provider relation --channel 4f326124812c41448bc587bf6b2eaf42 -o c1.md',
        'chat-export profile add work --provider relation --token-env RELATION_TOKEN',
        'chat-export dump --help',
      ),
    );
  const globalConfig = (own: string | undefined): string | undefined => own ?? (program.opts().config as string | undefined);
  const ctx = async (config: string | undefined) => {
    const { resolveConfigPath } = await import('./profile/store.js');
    return { configPath: resolveConfigPath(config, io.env), stdout: io.stdout, stderr: io.stderr, stdin: io.stdin, env: io.env };
  };
  const shared: Shared = { io, globalConfig, ctx };
  addDump(program, shared);
  addProviders(program, shared);
  addProfile(program, shared);
  addState(program, shared);
  addConvert(program, shared);
  addSearch(program, shared);
  addChannels(program, shared);
  addConfig(program, shared);
  return program;
}

/** What every command's options and action share: the streams, the global --config, the profile commands' context. */
interface Shared {
  io: CliIo;
  globalConfig: (own: string | undefined) => string | undefined;
  ctx: (config: string | undefined) => Promise<{ configPath: string; stdout: CliIo['stdout']; stderr: CliIo['stderr']; stdin: NodeJS.ReadableStream; env: NodeJS.ProcessEnv }>;
}

const configOption = () => new Option('--config <path>', 'config file (default: CHAT_EXPORT_CONFIG, else the per-user location)');

/** `dump`: export one or more channels. */
function addDump(program: Command, { io, globalConfig }: Shared): void {
  program
    .command('dump')
    .description('export one or more channels')
    .requiredOption('--provider <name>', 'a profile name from the config file, else relation | discuz | dishawang')
    .option('--channel <id>', 'channel / dialog / conversation id (repeatable)', collect)
    .option('--peer <id>', 'relation: a direct conversation (toRelationId) (repeatable)', collect)
    .option('--all-channels', 'every readable channel the provider\'s definition can list (see `channels`)')
    .option('--include <glob>', '--all-channels: only channels whose name or id matches (repeatable; * ? [abc])', collect)
    .option('--exclude <glob>', '--all-channels: leave out channels whose name or id matches (repeatable)', collect)
    .option('--kind <kind>', '--all-channels: only these kinds: channel, private, direct, group, thread (repeatable)', collect)
    .addOption(new Option('--format <format>', 'output format (default: from the output file extension, else jsonl)').choices(['jsonl', 'csv', 'md', 'html', 'sqlite']))
    .option('-o, --output <path>', '"-" = stdout; a file (PATH.sqlite: an archive); or a directory (exists or ends in /) for one file per channel')
    .option('--since <time>', 'oldest time to include: ISO 8601, epoch seconds (10 digits) or ms (13), or relative (90m, 36h, 7d)')
    .option('--until <time>', 'exclusive upper bound, same forms as --since')
    .option('--limit <n>', 'at most N messages per channel (the newest N)', number('--limit', true))
    .addOption(new Option('--order <order>', 'asc (oldest first) or desc').choices(['asc', 'desc']).default('asc'))
    .option('--incremental', 'fetch only what is newer than the last successful run; append to the output')
    .option('--partition <n>', 'split each file output into parts of at most N messages (NAME.ext, NAME.2.ext, …)', number('--partition', true))
    .option('--media', 'download attachments, pictures and avatars; the outputs link the local copies')
    .option('--media-dir <path>', 'where --media stores files (default: media/ beside the output)')
    .option('--media-max-size <size>', 'largest file --media keeps, in bytes or with a unit (100M, 1G; default 100M)')
    .option('--media-allow-private', '--media may fetch from loopback and private addresses, not only from the API\'s own host (link-local: never)')
    .option('--adopt', 'with --incremental: continue an existing JSONL/CSV file no state records (its newest message is read from it)')
    .option('--resume', 'continue an interrupted export of the same profile, channel and window')
    .option('--lookback <duration>', 'archive: also re-read this long before what it holds (7d), to pick up edits and deletions')
    .option('--full', 'archive: re-read the whole history (upserts; nothing is removed)')
    .option('--refresh-people', 'walk the people directory again even if this day\'s copy is kept (definitions with `people`)')
    .option('--base-url <url>', 'API root (default: the provider\'s)')
    .option('--token <token>', 'credential; "-" reads it from stdin (prefer CHAT_EXPORT_TOKEN or a profile: flags show in ps)')
    .option('--api-key <key>', 'relation API key; "-" reads it from stdin (prefer CHAT_EXPORT_API_KEY)')
    .option('--page-size <n>', 'page size sent to the API where it takes one', number('--page-size', true))
    .option('--rate <r>', 'max requests per second per host (default 5)', number('--rate', false))
    .option('--concurrency <n>', 'channels (and pages, where safe) in flight (default 4)', number('--concurrency', true))
    .option('--retries <n>', 'retries per request on retryable failures (default 5)', number('--retries', true))
    .option('--timeout <ms>', 'per-request timeout in ms (default 30000)', number('--timeout', true))
    .option('--timezone <tz>', 'zone the provider\'s naive timestamps are READ in (dishawang, default +08:00)')
    .option('--tz <zone>', 'zone Markdown transcripts SHOW times in: UTC, +08:00, Asia/Tokyo (default: this machine\'s, TZ)')
    .option('--raw', 'add the provider\'s original object as "raw"')
    .option('--excel', 'CSV for Excel: a UTF-8 BOM, all-digit ids as ="…" text (default CSV is plain RFC 4180)')
    .option('--no-progress', 'no progress bars')
    .option('--stats <interval>', 'without a terminal (cron, a pipe): a stats line every interval; 0 = none (default 1m)')
    .option('-q, --quiet', 'print nothing but errors')
    .option('-v, --verbose', 'log every request to stderr')
    .addOption(configOption())
    .option('--allow-insecure', 'permit http:// to a non-loopback host')
    .option('--state-dir <path>', 'where incremental state and checkpoints live (default: the per-user state directory, or beside a --config file)')
    .option('--dry-run', 'print the resolved profile and the first request; send nothing')
    .addHelpText('after', DUMP_HELP)
    .action(async (options) => {
      const { runDump } = await import('./commands/dump.js');
      const { readSecretFlags } = await import('./commands/profile.js');
      const withSecrets = await readSecretFlags(options as { token?: string; apiKey?: string }, io);
      await runDump({ ...withSecrets, config: globalConfig(options.config) } as never, io);
    });
}

/** `providers`, `providers show NAME`, `providers check NAME`. */
function addProviders(program: Command, { io, globalConfig }: Shared): void {
  program
    .command('providers')
    .description('list providers (built-in and the config\'s definitions); "providers show NAME" prints a definition; "providers check NAME --channel ID" tries one request')
    .argument('[action]', 'show | check (default: list)')
    .argument('[name]', 'a provider or profile name')
    .option('--json', 'as JSON (list)')
    .option('--channel <id>', 'check: the channel to ask for')
    .option('--peer <id>', 'check: a direct conversation to ask for')
    .option('--base-url <url>', 'check: API root')
    .option('--token <token>', 'check: credential')
    .option('--api-key <key>', 'check: credential')
    .option('--timezone <tz>', 'check: zone for naive times')
    .option('--page-size <n>', 'check: page size', (value: string) => Number(value))
    .option('--count <n>', 'check: normalized messages shown (3)', (value: string) => Number(value))
    .option('--allow-insecure', 'check: permit http:// to a non-loopback host')
    .addOption(configOption())
    .action(async (action: string | undefined, name: string | undefined, options: Record<string, unknown> & { json?: boolean; config?: string }) => {
      const commands = await import('./commands/providers.js');
      const config = globalConfig(options.config);
      if (action === undefined) return commands.listProviders(io.stdout, Boolean(options.json), { config, env: io.env, stderr: io.stderr });
      const { UsageError } = await import('./errors.js');
      if (action !== 'show' && action !== 'check') throw new UsageError(`providers: unknown action "${action}"`, { hint: 'use "providers", "providers show NAME" or "providers check NAME --channel ID"' });
      if (!name) throw new UsageError(`providers ${action} needs a provider name`);
      if (action === 'show') return commands.showProvider(name, { ...io, config });
      await commands.checkProvider(name, { ...(options as object), config }, io);
    })
    .addHelpText('after', examples('chat-export providers', 'chat-export providers show relation > my-api.json', 'chat-export providers check my-api --channel C1 --base-url https://chat.example.com'));
}

/** `profile list | show | add | set | unset | remove`. */
function addProfile(program: Command, { globalConfig, ctx }: Shared): void {
  const profile = program.command('profile').description('manage named profiles in the config file');
  profile
    .command('list')
    .description('list profiles')
    .addOption(configOption())
    .action(async (options: { config?: string }) => {
      const { profileList } = await import('./commands/profile.js');
      profileList(await ctx(globalConfig(options.config)));
    })
    .addHelpText('after', examples('chat-export profile list'));
  profile
    .command('show <name>')
    .description('show a profile (secrets redacted)')
    .addOption(configOption())
    .action(async (name: string, options: { config?: string }) => {
      const { profileShow } = await import('./commands/profile.js');
      profileShow(name, await ctx(globalConfig(options.config)));
    })
    .addHelpText('after', examples('chat-export profile show work'));
  profile
    .command('add <name>')
    .description('add a profile, or replace one whole with --force (keys not given are dropped; to change one key use profile set)')
    .requiredOption('--provider <provider>', 'relation | discuz | dishawang')
    .option('--base-url <url>', 'API root')
    .option('--token <token>', 'token ("-" reads it from stdin)')
    .option('--api-key <key>', 'API key ("-" reads it from stdin)')
    .option('--token-env <var>', 'environment variable that holds the token')
    .option('--api-key-env <var>', 'environment variable that holds the API key')
    .option('--page-size <n>', 'page size', number('--page-size', true))
    .option('--rate <r>', 'requests per second', number('--rate', false))
    .option('--concurrency <n>', 'channels in flight', number('--concurrency', true))
    .option('--retries <n>', 'retries per request', number('--retries', true))
    .option('--timeout <ms>', 'per-request timeout', number('--timeout', true))
    .option('--timezone <tz>', 'zone for naive timestamps')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv', 'md', 'html', 'sqlite']))
    .option('-o, --output <path>', 'default output')
    .option('--force', 'replace an existing profile')
    .addOption(configOption())
    .action(async (name: string, options: Record<string, unknown> & { config?: string }) => {
      const { profileAdd } = await import('./commands/profile.js');
      const { config, ...rest } = options;
      await profileAdd(name, rest as never, await ctx(globalConfig(config)));
    })
    .addHelpText(
      'after',
      examples(
        'chat-export profile add work --provider relation --token-env RELATION_TOKEN --api-key-env RELATION_API_KEY',
        "printf '%s\\n' \"$TOKEN\" | chat-export profile add forum --provider discuz --base-url https://bbs.example.com --token -",
      ),
    );
  profile
    .command('set <name> <key> [value]')
    .description('change one key of a profile, keeping the others ("-" as the value of token / apiKey reads stdin)')
    .addOption(configOption())
    // `profile set work --page-size 150` (and `--page-size=150`) name the key as dump's flag does
    .allowUnknownOption()
    .action(async (name: string, key: string, value: string | undefined, options: { config?: string }) => {
      const { profileSet } = await import('./commands/profile.js');
      const { UsageError } = await import('./errors.js');
      const [flag, inline] = key.startsWith('--') && key.includes('=') ? [key.slice(0, key.indexOf('=')), key.slice(key.indexOf('=') + 1)] : [key, undefined];
      const given = value ?? inline;
      if (given === undefined || (value !== undefined && inline !== undefined)) {
        throw new UsageError(`profile set ${name} ${key}: give one value`, { hint: 'chat-export profile set NAME KEY VALUE (KEY as pageSize, page-size or --page-size)' });
      }
      await profileSet(name, flag, given, await ctx(globalConfig(options.config)));
    })
    .addHelpText(
      'after',
      examples(
        "printf '%s\\n' \"$NEW_TOKEN\" | chat-export profile set forum token -",
        'chat-export profile set work pageSize 100',
        'chat-export profile set work base-url https://api.relationlabs.ai',
      ),
    );
  profile
    .command('unset <name> <key>')
    .description('remove one key of a profile (the default or the environment applies again)')
    .addOption(configOption())
    .action(async (name: string, key: string, options: { config?: string }) => {
      const { profileUnset } = await import('./commands/profile.js');
      await profileUnset(name, key, await ctx(globalConfig(options.config)));
    })
    .addHelpText('after', examples('chat-export profile unset work pageSize'));
  profile
    .command('remove <name>')
    .description('remove a profile')
    .addOption(configOption())
    .action(async (name: string, options: { config?: string }) => {
      const { profileRemove } = await import('./commands/profile.js');
      await profileRemove(name, await ctx(globalConfig(options.config)));
    })
    .addHelpText('after', examples('chat-export profile remove work'));
}

/** `state list | reset`. */
function addState(program: Command, { io, globalConfig }: Shared): void {
  const state = program.command('state').description('incremental state and checkpoints (per-user state directory; beside a --config file)');
  const stateCtx = async (options: { config?: string; stateDir?: string }) => {
    const { resolveConfigPath, resolveStateDir } = await import('./profile/store.js');
    const { createLogger } = await import('./log.js');
    const stateDir = resolveStateDir(options.stateDir, resolveConfigPath(globalConfig(options.config), io.env), createLogger('normal', io.stderr));
    return { stateDir, stdout: io.stdout, stderr: io.stderr };
  };
  state
    .command('list')
    .description('one line per profile and channel: output, newest message, last run')
    .addOption(configOption())
    .option('--state-dir <path>', 'state directory (default: the per-user state directory, or beside a --config file)')
    .action(async (options: { config?: string; stateDir?: string }) => {
      const { stateList } = await import('./commands/state.js');
      await stateList(await stateCtx(options));
    })
    .addHelpText('after', examples('chat-export state list'));
  state
    .command('reset [profile]')
    .description('forget incremental state (the next --incremental run is a full export): a channel, all of a profile\'s, or --all')
    .option('--channel <id>', 'channel (repeatable)', collect)
    .option('--peer <id>', 'relation peer (repeatable)', collect)
    .option('--base-url <url>', 'only the state made against this API root')
    .option('--all', 'every profile and channel')
    .addOption(configOption())
    .option('--state-dir <path>', 'state directory (default: the per-user state directory, or beside a --config file)')
    .action(async (name: string | undefined, options: { channel?: string[]; peer?: string[]; all?: boolean; baseUrl?: string; config?: string; stateDir?: string }) => {
      const { stateReset } = await import('./commands/state.js');
      await stateReset(name, options, await stateCtx(options));
    })
    .addHelpText(
      'after',
      examples(
        'chat-export state reset work --channel C1',
        'chat-export state reset work --channel C1 --base-url https://staging.example.com',
        'chat-export state reset work',
        'chat-export state reset --all',
      ),
    );
}

/** `convert INPUT -o OUTPUT`. */
function addConvert(program: Command, { io, globalConfig }: Shared): void {
  program
    .command('convert <input>')
    .description('render an archive or a JSONL export offline into any format, or import a JSONL export into an archive')
    .option('-o, --output <path>', 'a file (.jsonl .csv .md .html .sqlite), a directory (one file per channel), or - for stdout')
    .addOption(new Option('--format <format>', 'output format (default: from the output file extension, else jsonl)').choices(['jsonl', 'csv', 'md', 'html', 'sqlite']))
    .option('--channel <id>', 'only this channel (repeatable; output in this order)', collect)
    .option('--provider <name>', 'only this provider\'s channels')
    .option('--since <time>', 'oldest time to include: ISO 8601, epoch seconds (10 digits) or ms (13), or relative (90m, 36h, 7d)')
    .option('--until <time>', 'exclusive upper bound, same forms as --since')
    .addOption(new Option('--order <order>', 'asc (oldest first) or desc').choices(['asc', 'desc']).default('asc'))
    .option('--limit <n>', 'at most N messages per channel (the newest N)', number('--limit', true))
    .option('--tz <zone>', 'zone Markdown and HTML transcripts SHOW times in, as dump (default: this machine\'s, TZ)')
    .option('--partition <n>', 'split each file output into parts of at most N messages (NAME.ext, NAME.2.ext, …)', number('--partition', true))
    .option('--media', 'link the local copies of pictures, files and avatars that dump --media recorded in the archive')
    .option('--raw', 'add the provider\'s original object as "raw" (archives keep it)')
    .option('--base-url <url>', 'importing JSONL into an archive: the API root the messages came from (default: the provider\'s)')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(configOption())
    .action(async (input: string, options) => {
      const { runConvert } = await import('./commands/convert.js');
      await runConvert(input, { ...options, config: globalConfig(options.config) }, io);
    });
}

/** `channels --provider P [--json]`. */
function addChannels(program: Command, { io, globalConfig }: Shared): void {
  program
    .command('channels')
    .description('list the conversations the credential can see, where the provider\'s definition can list them (a table; JSONL with --json)')
    .requiredOption('--provider <name>', 'a profile name from the config file, or a provider')
    .option('--json', 'one JSON object per line: id, name, kind, parent, archived, readable')
    .option('--no-progress', 'accepted as dump accepts it (a listing draws no bars)')
    .option('--base-url <url>', 'API root (default: the provider\'s)')
    .option('--token <token>', 'credential; "-" reads it from stdin (prefer CHAT_EXPORT_TOKEN or a profile)')
    .option('--api-key <key>', 'credential; "-" reads it from stdin (prefer CHAT_EXPORT_API_KEY)')
    .option('--page-size <n>', 'page size sent to the API where it takes one', number('--page-size', true))
    .option('--rate <r>', 'max requests per second per host (default 5)', number('--rate', false))
    .option('--retries <n>', 'retries per request on retryable failures (default 5)', number('--retries', true))
    .option('--timeout <ms>', 'per-request timeout in ms (default 30000)', number('--timeout', true))
    .option('--allow-insecure', 'permit http:// to a non-loopback host')
    .option('-q, --quiet', 'print nothing but errors')
    .option('-v, --verbose', 'log every request to stderr')
    .addOption(configOption())
    .action(async (options) => {
      const { runChannels } = await import('./commands/channels.js');
      const { readSecretFlags } = await import('./commands/profile.js');
      const withSecrets = await readSecretFlags(options as { token?: string; apiKey?: string }, io);
      await runChannels({ ...withSecrets, config: globalConfig(options.config) } as never, io);
    })
    .addHelpText('after', examples('chat-export channels --provider guild', 'chat-export channels --provider guild --json | jq -r \'select(.kind == "thread") | .name\''));
}

/** `search ARCHIVE QUERY…`. */
function addSearch(program: Command, { io }: Shared): void {
  program
    .command('search <archive> [query...]')
    .description('full-text search of an archive: matches newest first')
    .option('--channel <id>', 'only this channel (repeatable)', collect)
    .option('--limit <n>', 'at most N matches (default 20)', number('--limit', true))
    .option('--json', 'print the matching messages as JSONL')
    .option('--rebuild-index', 'make the full-text index again from the messages (after it was dropped or damaged); the query may then be left out')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(configOption())
    .action(async (archive: string, query: string[], options) => {
      const { runSearch } = await import('./commands/search.js');
      // words given as separate arguments are one query: all of them must occur
      await runSearch(archive, query.join(' '), options, io);
    });
}

/** `config path`. */
function addConfig(program: Command, { ctx, globalConfig }: Shared): void {
  program
    .command('config')
    .description('the config file')
    .command('path')
    .description('print the config file location in force')
    .addOption(configOption())
    .action(async (options: { config?: string }) => {
      const { configPath } = await import('./commands/config.js');
      configPath(await ctx(globalConfig(options.config)));
    })
    .addHelpText('after', examples('chat-export config path', 'CHAT_EXPORT_CONFIG=/etc/chat-export.json chat-export config path'));
}
