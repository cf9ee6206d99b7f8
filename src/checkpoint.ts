import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from './errors.js';
import { z } from 'zod';
import { writeJsonAtomic } from './state.js';
import { isProcessAlive } from './pid.js';

/**
 * Every export records where it is as it goes: the sorted runs already on
 * disk and the walker's position right after the last page they hold. After
 * a crash, SIGKILL, Ctrl-C or exit 4, `--resume` reloads the runs and walks
 * on from that position, so the final output equals an uninterrupted run's.
 */
const rowSchema = z.object({ time: z.number(), id: z.string(), line: z.string() });
const checkpointSchema = z.object({
  version: z.literal(1),
  /** the run's identity: profile, channel and window as given */
  key: z.string(),
  runs: z.array(z.object({ path: z.string(), count: z.number(), first: rowSchema, last: rowSchema })),
  walk: z.union([
    z.object({ kind: z.literal('cursor'), maxCreateAt: z.number(), boundaryIds: z.array(z.string()) }),
    z.object({ kind: z.literal('pages'), nextPage: z.number(), total: z.number().optional(), lastIds: z.array(z.string()) }),
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
  ]),
  kept: z.number(),
  newest: z.object({ time: z.number(), ids: z.array(z.string()) }).nullable(),
  /** resolved window, so relative --since/--until mean the same on resume */
  since: z.number().nullable(),
  until: z.number().nullable(),
});

export type Checkpoint = z.infer<typeof checkpointSchema>;

export function checkpointDir(stateDir: string, stateName: string): string {
  return join(stateDir, 'checkpoints', stateName.replace(/\.json$/, ''));
}

export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  try {
    const parsed = checkpointSchema.safeParse(JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function saveCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  await writeJsonAtomic(dir, 'checkpoint.json', checkpoint);
}

export async function clearCheckpoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}


/**
 * Who owns a profile+channel's state and checkpoint: two runs (an overlapping
 * cron run) would clear each other's checkpoint and race on the state. The
 * lock names its pid, so one left by a killed run is taken over; a busy lock
 * returns its holder.
 */
export async function lockChannel(stateDir: string, stateName: string): Promise<{ release: () => Promise<void> } | { holder: number }> {
  const path = join(stateDir, 'locks', stateName.replace(/\.json$/, '.lock'));
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isProcessAlive(holder)) return { holder };
      await rm(path, { force: true });
    }
  }
  throw new UsageError(`cannot take the lock ${path}`);
}

