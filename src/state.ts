import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { fsyncPath } from './sinks/atomic-file.js';

/**
 * What a profile+channel's last successful --incremental run left behind:
 * the newest message exported (its time, and every id at that time, since
 * several messages can share one), and the output it went to. `pending` is
 * written before an append starts and cleared after it ends: found on start,
 * it means the append was interrupted, and the output is cut back to `size`.
 */
const stateSchema = z.object({
  version: z.literal(1),
  profile: z.string(),
  provider: z.string(),
  channel: z.string(),
  kind: z.enum(['channel', 'peer']),
  newest: z.object({ time: z.number(), ids: z.array(z.string()) }).nullable(),
  output: z.string(),
  format: z.enum(['jsonl', 'csv', 'md', 'html']),
  order: z.enum(['asc', 'desc']),
  /** output size in bytes after the last completed write */
  size: z.number().int().nonnegative(),
  /** last Markdown day heading written (asc transcripts continue under it) */
  lastDay: z.string().nullable(),
  messages: z.number().int().nonnegative(),
  updatedAt: z.string(),
  pending: z.object({ size: z.number().int().nonnegative() }).nullable(),
  /** normalized API root of the source (states before it was recorded: absent) */
  api: z.string().optional(),
  /** sha256 of the output's first and last 64 KiB after the last completed write: proof it is still that file */
  fingerprint: z.object({ head: z.string(), tail: z.string() }).nullable().default(null),
  /** messages written that are dated beyond the clock: kept out of `newest`, not to be written again */
  future: z.array(z.object({ id: z.string(), time: z.number() })).default([]),
  /**
   * digest of the provider definition the output was read under (states before it was recorded: absent). After an
   * edit, ids or times may be read differently: the next run proves they are not before appending (walk-channel.ts)
   */
  definition: z.string().optional(),
  /** Markdown: [id, author, text start] of the last messages written, for replies in later appends to quote */
  replies: z.array(z.tuple([z.string(), z.string(), z.string()])).optional(),
  /** threads kept apart from the history: each parent's reply count and latest reply when last walked, and the newest reply then */
  threads: z
    .record(z.string(), z.object({ count: z.unknown(), latest: z.unknown(), newest: z.object({ time: z.number(), ids: z.array(z.string()) }).nullable() }))
    .optional(),
});

export type ChannelState = z.infer<typeof stateSchema>;

/** What stateFileName makes: `readable-part-<12 hex>.json`. Nothing else in the state directory is ours. */
const STATE_NAME = /^[A-Za-z0-9_.-]{1,80}-[0-9a-f]{12}\.json$/;

export function isStateFileName(name: string): boolean {
  return STATE_NAME.test(name);
}

/**
 * The file of a profile+channel's state. The API root is part of the hash:
 * the same channel id on another server (another site, a test server) is
 * another history, and must not share — or skip by — this one's state.
 */
export function stateFileName(profile: string, kind: string, channel: string, baseUrl = ''): string {
  const readable = `${profile}-${kind}-${channel}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
  const hash = createHash('sha256').update(`${profile}\0${kind}\0${channel}\0${baseUrl}`).digest('hex').slice(0, 12);
  return `${readable}-${hash}.json`;
}

/** The file of a source's --incremental state for one output (a path, or undefined for stdout). */
export function outputStateFileName(profile: string, target: { kind: string; id: string }, apiRoot: string, output: string | undefined): string {
  return stateFileName(profile, target.kind, target.id, `${apiRoot}\0${output ?? '-'}`);
}

export async function readState(dir: string, name: string): Promise<ChannelState | undefined> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // EACCES, EISDIR, EIO…: the user's to fix, not an internal error
    throw new UsageError(`incremental state ${path} cannot be read (${code ?? String(error)})`, {
      cause: error,
      hint: 'fix its permissions, or remove it (chat-export state reset) to start over with a full export',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`incremental state ${path} is not valid JSON`, {
      hint: `remove it (chat-export state reset) to start over with a full export`,
    });
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`incremental state ${path} is not readable: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      hint: 'remove it (chat-export state reset) to start over with a full export',
    });
  }
  return parsed.data;
}

export async function writeState(dir: string, name: string, state: z.input<typeof stateSchema>): Promise<void> {
  await writeJsonAtomic(dir, name, stateSchema.parse(state));
}

/** temp + fsync + rename + fsync(dir): the file is the old one or the new one, never half. */
export async function writeJsonAtomic(dir: string, name: string, value: unknown): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  try {
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    // a failed write (disk full, target replaced by a directory…) must not leave its temp file behind
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await fsyncPath(dir).catch(() => {});
}

/**
 * The state files in `dir`: only names stateFileName makes. A file of that
 * name that does not parse is listed with its error (and is never removed by
 * `state reset --all`, which removes only files that parse as a state).
 */
export async function listStates(dir: string): Promise<Array<{ file: string; state: ChannelState | undefined; error?: string }>> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: Array<{ file: string; state: ChannelState | undefined; error?: string }> = [];
  for (const name of names.filter(isStateFileName).sort()) {
    try {
      out.push({ file: join(dir, name), state: await readState(dir, name) });
    } catch (error) {
      out.push({ file: join(dir, name), state: undefined, error: (error as Error).message });
    }
  }
  return out;
}

export async function removeState(dir: string, name: string): Promise<boolean> {
  try {
    await rm(join(dir, name));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
