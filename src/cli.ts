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

/** The command line; each command's code is imported only when it runs. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('chat-export')
    .description('Back up chat histories (relation, Discuz! Q, dishawang) to JSONL, CSV or Markdown')
    .version(version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride()
    // also before the command: `chat-export --config FILE profile list`
    .option('--config <path>', 'config file (default: CHAT_EXPORT_CONFIG, else the per-user location)');
  const globalConfig = (own: string | undefined): string | undefined => own ?? (program.opts().config as string | undefined);

  const configOption = () => new Option('--config <path>', 'config file (default: CHAT_EXPORT_CONFIG, else the per-user location)');

  program
    .command('dump')
    .description('export one or more channels')
    .requiredOption('--provider <name>', 'a profile name from the config file, else relation | discuz | dishawang')
    .option('--channel <id>', 'channel / dialog / conversation id (repeatable)', collect)
    .option('--peer <id>', 'relation: a direct conversation (toRelationId) (repeatable)', collect)
    .addOption(new Option('--format <format>', 'output format (default: from the output file extension, else jsonl)').choices(['jsonl', 'csv', 'md', 'sqlite']))
    .option('-o, --output <path>', '"-" = stdout; a file (PATH.sqlite: an archive); or a directory (exists or ends in /) for one file per channel')
    .option('--since <time>', 'oldest time to include: ISO 8601, epoch ms, or relative (90m, 36h, 7d)')
    .option('--until <time>', 'exclusive upper bound, same forms as --since')
    .option('--limit <n>', 'at most N messages per channel (the newest N)', number('--limit', true))
    .addOption(new Option('--order <order>', 'asc (oldest first) or desc').choices(['asc', 'desc']).default('asc'))
    .option('--incremental', 'fetch only what is newer than the last successful run; append to the output')
    .option('--resume', 'continue an interrupted export of the same profile, channel and window')
    .option('--lookback <duration>', 'archive: also re-read this long before what it holds (7d), to pick up edits and deletions')
    .option('--full', 'archive: re-read the whole history (upserts; nothing is removed)')
    .option('--base-url <url>', 'API root (default: the provider\'s)')
    .option('--token <token>', 'credential (prefer CHAT_EXPORT_TOKEN or a profile: flags show in ps)')
    .option('--api-key <key>', 'relation API key (prefer CHAT_EXPORT_API_KEY)')
    .option('--page-size <n>', 'page size sent to the API where it takes one', number('--page-size', true))
    .option('--rate <r>', 'max requests per second per host (default 5)', number('--rate', false))
    .option('--concurrency <n>', 'channels (and pages, where safe) in flight (default 4)', number('--concurrency', true))
    .option('--retries <n>', 'retries per request on retryable failures (default 5)', number('--retries', true))
    .option('--timeout <ms>', 'per-request timeout in ms (default 30000)', number('--timeout', true))
    .option('--timezone <tz>', 'zone for naive timestamps (dishawang, default +08:00) and Markdown day headings')
    .option('--raw', 'add the provider\'s original object as "raw"')
    .option('--no-progress', 'no progress bars')
    .option('-q, --quiet', 'print nothing but errors')
    .option('-v, --verbose', 'log every request to stderr')
    .addOption(configOption())
    .option('--allow-insecure', 'permit http:// to a non-loopback host')
    .option('--state-dir <path>', 'where incremental state and checkpoints live (default: beside the config)')
    .option('--dry-run', 'print the resolved profile and the first request; send nothing')
    .action(async (options) => {
      const { runDump } = await import('./commands/dump.js');
      await runDump({ ...options, config: globalConfig(options.config) }, io);
    });

  program
    .command('providers')
    .description('list the built-in providers: credentials, paging, defaults')
    .option('--json', 'as JSON')
    .addOption(configOption())
    .action(async (options: { json?: boolean }) => {
      const { listProviders } = await import('./commands/providers.js');
      listProviders(io.stdout, Boolean(options.json));
    });

  const profile = program.command('profile').description('manage named profiles in the config file');
  const ctx = async (config: string | undefined) => {
    const { resolveConfigPath } = await import('./profile/store.js');
    return { configPath: resolveConfigPath(config, io.env), stdout: io.stdout, stderr: io.stderr, stdin: io.stdin, env: io.env };
  };
  profile
    .command('list')
    .description('list profiles')
    .addOption(configOption())
    .action(async (options: { config?: string }) => {
      const { profileList } = await import('./commands/profile.js');
      profileList(await ctx(globalConfig(options.config)));
    });
  profile
    .command('show <name>')
    .description('show a profile (secrets redacted)')
    .addOption(configOption())
    .action(async (name: string, options: { config?: string }) => {
      const { profileShow } = await import('./commands/profile.js');
      profileShow(name, await ctx(globalConfig(options.config)));
    });
  profile
    .command('add <name>')
    .description('add or replace (--force) a profile')
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
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv', 'md', 'sqlite']))
    .option('-o, --output <path>', 'default output')
    .option('--force', 'replace an existing profile')
    .addOption(configOption())
    .action(async (name: string, options: Record<string, unknown> & { config?: string }) => {
      const { profileAdd } = await import('./commands/profile.js');
      const { config, ...rest } = options;
      await profileAdd(name, rest as never, await ctx(globalConfig(config)));
    });
  profile
    .command('remove <name>')
    .description('remove a profile')
    .addOption(configOption())
    .action(async (name: string, options: { config?: string }) => {
      const { profileRemove } = await import('./commands/profile.js');
      await profileRemove(name, await ctx(globalConfig(options.config)));
    });

  const state = program.command('state').description('incremental state and checkpoints (beside the config)');
  const stateCtx = async (options: { config?: string; stateDir?: string }) => {
    const { resolveConfigPath, defaultStateDir } = await import('./profile/store.js');
    const stateDir = options.stateDir ?? defaultStateDir(resolveConfigPath(globalConfig(options.config), io.env));
    return { stateDir, stdout: io.stdout, stderr: io.stderr };
  };
  state
    .command('list')
    .description('one line per profile and channel: output, newest message, last run')
    .addOption(configOption())
    .option('--state-dir <path>', 'state directory (default: beside the config)')
    .action(async (options: { config?: string; stateDir?: string }) => {
      const { stateList } = await import('./commands/state.js');
      await stateList(await stateCtx(options));
    });
  state
    .command('reset [profile]')
    .description('forget incremental state: the next --incremental run is a full export')
    .option('--channel <id>', 'channel (repeatable)', collect)
    .option('--peer <id>', 'relation peer (repeatable)', collect)
    .option('--all', 'every profile and channel')
    .addOption(configOption())
    .option('--state-dir <path>', 'state directory (default: beside the config)')
    .action(async (name: string | undefined, options: { channel?: string[]; peer?: string[]; all?: boolean; config?: string; stateDir?: string }) => {
      const { stateReset } = await import('./commands/state.js');
      await stateReset(name, options, await stateCtx(options));
    });

  program
    .command('convert <input>')
    .description('render an archive or a JSONL export offline into any format, or import a JSONL export into an archive')
    .option('-o, --output <path>', 'a file (.jsonl .csv .md .sqlite), a directory (one file per channel), or - for stdout')
    .addOption(new Option('--format <format>', 'output format (default: from the output file extension, else jsonl)').choices(['jsonl', 'csv', 'md', 'sqlite']))
    .option('--channel <id>', 'only this channel (repeatable; output in this order)', collect)
    .option('--provider <name>', 'only this provider\'s channels')
    .option('--since <time>', 'oldest time to include: ISO 8601, epoch ms, or relative (90m, 36h, 7d)')
    .option('--until <time>', 'exclusive upper bound, same forms as --since')
    .addOption(new Option('--order <order>', 'asc (oldest first) or desc').choices(['asc', 'desc']).default('asc'))
    .option('--limit <n>', 'at most N messages per channel (the newest N)', number('--limit', true))
    .option('--timezone <tz>', 'zone of Markdown day headings and times (default UTC)')
    .option('--raw', 'add the provider\'s original object as "raw" (archives keep it)')
    .option('--base-url <url>', 'importing JSONL into an archive: the API root the messages came from (default: the provider\'s)')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(configOption())
    .action(async (input: string, options) => {
      const { runConvert } = await import('./commands/convert.js');
      await runConvert(input, options, io);
    });

  program
    .command('search <archive> <query>')
    .description('full-text search of an archive: matches newest first')
    .option('--channel <id>', 'only this channel (repeatable)', collect)
    .option('--limit <n>', 'at most N matches (default 20)', number('--limit', true))
    .option('--json', 'print the matching messages as JSONL')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(configOption())
    .action(async (archive: string, query: string, options) => {
      const { runSearch } = await import('./commands/search.js');
      await runSearch(archive, query, options, io);
    });

  program
    .command('config')
    .description('the config file')
    .command('path')
    .description('print the config file location in force')
    .addOption(configOption())
    .action(async (options: { config?: string }) => {
      const { configPath } = await import('./commands/config.js');
      configPath(await ctx(globalConfig(options.config)));
    });

  return program;
}
