/**
 * The README's examples run as written. Every `chat-export dump|profile|
 * providers|config|state …` line of its shell blocks (and the cron line)
 * runs through bash in a sandbox, in order,
 * with `chat-export` being this build; `dump` lines get `--dry-run` (the hosts
 * are not ours to call) and lose the pipe after them. What this proves: every
 * flag, value and profile the README uses is accepted as written.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, createSandbox, run } from '../helpers/cli.js';
import { readmeExample } from '../helpers/readme.js';

const SAFE = new Set(['dump', 'profile', 'providers', 'config', 'state']);

interface Example {
  line: string;
  command: string;
}

function examples(): Example[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const out: Example[] = [];
  for (const block of readme.matchAll(/```(sh|cron)\n([\s\S]*?)```/g)) {
    for (const raw of block[2]!.split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').trim();
      if (line === '' || line.startsWith('#')) continue;
      if (block[1] === 'cron') {
        // the command part of the crontab line, without its environment, log redirect and mail
        const command = /(chat-export dump .*?) >>/.exec(line)?.[1];
        if (command) out.push({ line, command: command.replace(/^.*?chat-export/, 'chat-export') });
        continue;
      }
      // `export CHAT_EXPORT_TOKEN=…` holds placeholders: the sandbox has real-looking values instead
      if (!/(^|\| )chat-export /.test(line)) continue;
      // Only commands that can run here as written: no request to a host that is not ours
      // (`providers check`), no input file the reader would have made first (`search`, `convert`).
      const command = /chat-export ([a-z]+)(?: ([a-z]+))?/.exec(line);
      if (!command || !SAFE.has(command[1]!) || (command[1] === 'providers' && command[2] === 'check')) continue;
      out.push({ line, command: line });
    }
  }
  return out;
}

function runnable(command: string): string {
  // `… | chat-export dump …` keeps what feeds it; what it feeds is dropped
  const start = command.indexOf('chat-export ');
  const head = command.slice(0, start);
  let tail = command.slice(start);
  const pipe = tail.indexOf(' | ');
  if (pipe >= 0) tail = tail.slice(0, pipe);
  if (/^chat-export dump /.test(tail)) tail += ' --dry-run';
  return head + tail;
}

/** One normalized message, for the examples that read an archive or a JSONL backup. */
const README_MESSAGE = {
  id: '1', provider: 'relation', channel: 'C1', timestamp: '2024-01-23T09:50:40.000Z',
  sender: { id: 'u1', name: 'Alice', avatar: null }, type: 'text', text: '你好，今天开会吗？ send the report before Friday',
  replyTo: null, editedAt: null, deleted: false, attachments: [],
};

describe('README', () => {
  const all = examples();

  it('has examples to check', () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
    expect(all.some((e) => e.line.includes('profile add work'))).toBe(true);
    expect(all.some((e) => e.line.includes('--incremental'))).toBe(true);
  });

  it('every chat-export command line runs as written (dump as --dry-run)', async () => {
    const box = createSandbox();
    // the README's own definitions, as a reader who copied them into the config has them
    mkdirSync(dirname(box.config), { recursive: true });
    writeFileSync(box.config, JSON.stringify({ profiles: {}, providers: { guildish: readmeExample('guildish') } }), { mode: 0o600 });
    try {
      const script = [
        'set -u',
        `chat-export() { "$CHAT_EXPORT_TEST_NODE" "$CHAT_EXPORT_TEST_BIN" "$@"; }`,
        'TOKEN=readme-token-123456 NEW_TOKEN=readme-token-654321',
        // what the archive examples (search, convert) read: a JSONL backup and an archive made from it
        `printf '%s\\n' ${JSON.stringify(JSON.stringify(README_MESSAGE))} > old-backup.jsonl`,
        'chat-export convert old-backup.jsonl -o chat.sqlite -q',
        ...all.flatMap(({ command }) => [
          `printf '%s\\n' ${JSON.stringify(`>>> ${command}`)} >&2`,
          `${runnable(command)} >/dev/null || { echo "FAILED($?): ${command.replace(/["$`\\]/g, '\\$&')}" >&2; }`,
        ]),
      ].join('\n');
      const result = await run('bash', ['--norc', '--noprofile', '-c', script], {
        env: { ...box.env(), CHAT_EXPORT_TEST_NODE: process.execPath, CHAT_EXPORT_TEST_BIN: BIN },
        cwd: box.dir,
        timeoutMs: 120_000,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr, result.stderr).not.toMatch(/FAILED/);
      expect(result.stderr).not.toMatch(/unknown option|unknown command|internal error/);
    } finally {
      box.cleanup();
    }
  }, 180_000);

  it('every sqlite3 query of the archive section runs as written (through python3\'s sqlite3) and the phrase query finds its message', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const queries = [...readme.matchAll(/^sqlite3 chat\.sqlite "((?:[^"\\]|\\.)*)"/gm)].map((m) => m[1]!.replace(/\\(["\\$`])/g, '$1'));
    expect(queries.length).toBeGreaterThanOrEqual(5);
    const box = createSandbox();
    try {
      const script = [
        `printf '%s\\n' ${JSON.stringify(JSON.stringify(README_MESSAGE))} > backup.jsonl`,
        `"$CHAT_EXPORT_TEST_NODE" "$CHAT_EXPORT_TEST_BIN" convert backup.jsonl -o chat.sqlite -q`,
      ].join('\n');
      const made = await run('bash', ['--norc', '--noprofile', '-c', script], {
        env: { ...box.env(), CHAT_EXPORT_TEST_NODE: process.execPath, CHAT_EXPORT_TEST_BIN: BIN },
        cwd: box.dir,
      });
      expect(made.code, made.stderr).toBe(0);
      const code = `import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
out = []
for q in json.loads(sys.argv[2]):
    try:
        out.append({'ok': True, 'rows': [list(r) for r in con.execute(q).fetchall()]})
    except Exception as e:
        out.append({'ok': False, 'error': str(e), 'query': q})
print(json.dumps(out))`;
      const result = await run('python3', ['-c', code, join(box.dir, 'chat.sqlite'), JSON.stringify(queries)]);
      expect(result.code, result.stderr).toBe(0);
      const answers = JSON.parse(result.stdout) as Array<{ ok: boolean; error?: string; query?: string; rows?: unknown[][] }>;
      expect(answers.filter((a) => !a.ok)).toEqual([]);
      const phrase = answers[queries.findIndex((q) => q.includes('MATCH'))]!;
      expect(phrase.rows).toEqual([[README_MESSAGE.timestamp, 'Alice', README_MESSAGE.text]]);
    } finally {
      box.cleanup();
    }
  });
});
