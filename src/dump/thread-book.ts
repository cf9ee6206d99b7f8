/**
 * The archive's thread book (src/walk/threads.ts): per channel and archive,
 * each thread's reply count and latest reply when last walked. It lives in
 * the state directory and is written only after the channel's pages are all
 * committed; a book that is missing or unreadable only means every thread is
 * walked again (the archive upserts, nothing is lost).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../state.js';
import type { ThreadBook, ThreadState } from '../walk/threads.js';
import type { ChannelJob } from '../run/types.js';

function bookName(job: ChannelJob): string {
  // one book per channel and archive: another archive of the same channel has its own threads
  const hash = createHash('sha256').update(`${job.stateName}\0${job.path ?? ''}`).digest('hex').slice(0, 16);
  return `threads-${hash}.json`;
}

export async function readThreadBook(stateDir: string, job: ChannelJob): Promise<Record<string, ThreadState> | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, 'threads', bookName(job)), 'utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, ThreadState>) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeThreadBook(stateDir: string, job: ChannelJob, book: ThreadBook): Promise<void> {
  await writeJsonAtomic(join(stateDir, 'threads'), bookName(job), book.toJSON());
}
