import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { UsageError } from './errors.js';
import { z } from 'zod';
import { isProcessAlive } from './pid.js';

/**
 * Every export records where it is as it goes: the sorted runs already on
 * disk and the walker's position right after the last page they hold. After
 * a crash, SIGKILL, Ctrl-C or exit 4, `--resume` reloads the runs and walks
 * on from that position, so the final output equals an uninterrupted run's.
 */
/** A walker's position (src/walk/types.ts WalkCheckpoint); also kept in an archive's channels table. */
const plainCheckpointSchema = z.union([
  z.object({ kind: z.literal('cursor'), maxCreateAt: z.number(), boundaryIds: z.array(z.string()) }),
  z.object({ kind: z.literal('pages'), nextPage: z.number(), total: z.number().optional(), lastIds: z.array(z.string()), perPage: z.number().optional() }),
  z.object({
    kind: z.literal('sequential'),
    position: z.union([
      z.object({ start: z.literal(true) }),
      z.object({ offset: z.number() }),
      z.object({ token: z.string() }),
      z.object({ link: z.string() }),
    ]),
    lastIds: z.array(z.string()),
  }),
]);
/** Inside a walk with threads (src/walk/threads.ts): the history's position, the parents still to walk, the position in the first. */
const threadRefSchema = z.object({ id: z.string(), time: z.number(), record: z.record(z.string(), z.unknown()), count: z.unknown(), latest: z.unknown() });
export const walkCheckpointSchema = z.union([
  plainCheckpointSchema,
  z.object({
    kind: z.literal('threads'),
    main: plainCheckpointSchema.nullable(),
    pending: z.array(threadRefSchema),
    inner: plainCheckpointSchema.nullable(),
    broadcast: z.array(z.string()),
    sweeping: z.boolean(),
  }),
]);
const rowSchema = z.object({ time: z.number(), id: z.string(), line: z.string() });
const checkpointSchema = z.object({
  version: z.literal(1),
  /** the run's identity: profile, channel and window as given */
  key: z.string(),
  runs: z.array(z.object({ path: z.string(), count: z.number(), bytes: z.number().optional(), first: rowSchema, last: rowSchema })),
  walk: walkCheckpointSchema,
  /** the walk ended: only the output is left to write */
  complete: z.boolean().default(false),
  kept: z.number(),
  newest: z.object({ time: z.number(), ids: z.array(z.string()) }).nullable(),
  /** messages dated in the future, kept out of `newest` */
  future: z.array(z.object({ id: z.string(), time: z.number() })).default([]),
  /** messages known missing so far (exit 5) */
  missing: z.array(z.object({ reason: z.string(), count: z.number() })).default([]),
  /** resolved window, so relative --since/--until mean the same on resume */
  since: z.number().nullable(),
  until: z.number().nullable(),
});

export type Checkpoint = z.input<typeof checkpointSchema>;
type SavedCheckpoint = z.infer<typeof checkpointSchema>;

export function checkpointDir(stateDir: string, stateName: string): string {
  return join(stateDir, 'checkpoints', stateName.replace(/\.json$/, ''));
}

export async function readCheckpoint(dir: string): Promise<SavedCheckpoint | undefined> {
  try {
    const parsed = checkpointSchema.safeParse(JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaced whole (temp + rename) but not fsynced, unlike the incremental
 * state: a checkpoint is written at every spill, every few thousand messages,
 * and its two fsyncs cost more wall time than the spill itself on a busy disk
 * (the walk waits for them). Renamed whole, it survives a killed process as
 * the spilled runs it names do (they are not fsynced either); one a power
 * loss left unreadable, or a run it names left short (each run's size is
 * recorded), only means --resume starts over, and says so.
 */
export async function saveCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.checkpoint.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 });
    await rename(temp, join(dir, 'checkpoint.json'));
  } catch (error) {
    // a failed write (disk full, the directory replaced…) must not leave its temp file behind
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
}

export async function clearCheckpoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}


/**
 * Who owns a profile+channel's state and checkpoint: two runs (an overlapping
 * cron run) would clear each other's checkpoint and race on the state.
 *
 * Every step is atomic. The lock is made by link(2)ing a file that already
 * holds our pid to the lock's name (it exists whole or not at all, and only
 * one link can win). A lock whose pid is dead is taken over only under a
 * second, short-lived "take-over" lock made the same way: its holder checks
 * that the lock is still the very file (same inode) it found dead, removes
 * it and links its own. Nobody else ever removes a lock, so a live holder's
 * lock cannot be deleted by a starter that read a dead pid a moment earlier.
 */
export async function lockChannel(stateDir: string, stateName: string): Promise<{ release: () => Promise<void> } | { holder: number }> {
  const path = join(stateDir, 'locks', stateName.replace(/\.json$/, '.lock'));
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const mine = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  await writeFile(mine, String(process.pid), { mode: 0o600, flag: 'wx' });
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await linkExclusive(mine, path)) return { release: () => rm(path, { force: true }) };
      const found = await readHolder(path);
      if (!found) continue; // released meanwhile: try again
      if (alive(found.pid)) return { holder: found.pid };
      // Dead holder: take over under the take-over lock.
      const takeover = `${path}.takeover`;
      if (await linkExclusive(mine, takeover)) {
        try {
          const again = await readHolder(path);
          if (again && again.ino === found.ino && !alive(again.pid)) await rm(path, { force: true });
        } finally {
          await rm(takeover, { force: true });
        }
        continue;
      }
      const other = await readHolder(takeover);
      if (other && !alive(other.pid)) {
        // A starter died inside the take-over (milliseconds long): set its lock aside, but only that very file.
        await removeIfSame(takeover, other.ino);
      }
      if (Date.now() > deadline) throw new UsageError(`cannot take the lock ${path}: another chat-export keeps taking it over`);
      await sleep(5 + Math.random() * 20);
    }
  } finally {
    await rm(mine, { force: true });
  }
}

async function linkExclusive(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The pid in a lock file and the file's inode; undefined when there is none. A lock without a pid is a dead one. */
async function readHolder(path: string): Promise<{ pid: number; ino: number } | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const [info, text] = await Promise.all([handle.stat(), handle.readFile('utf8')]);
    const pid = Number(text.trim());
    return { pid: Number.isInteger(pid) && pid > 0 ? pid : 0, ino: info.ino };
  } finally {
    await handle.close();
  }
}

/** Renames `path` aside and removes it if it is still the file `ino`; puts a newer one back. */
async function removeIfSame(path: string, ino: number): Promise<void> {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readHolder(aside);
  if (moved && moved.ino !== ino) await link(aside, path).catch(() => {});
  await rm(aside, { force: true });
}

/** A lock naming no pid, or our own (a pid reused after a reboot), or a dead one, holds nothing. */
function alive(pid: number): boolean {
  return pid > 0 && pid !== process.pid && isProcessAlive(pid);
}
