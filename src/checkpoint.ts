import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from './state.js';

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

