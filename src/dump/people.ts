/**
 * The people directory of a run (a definition's `people`): walked once per
 * run by the same walkers as messages, kept a day in the state directory
 * (`--refresh-people` walks it again), and set as `$people` for every field
 * expression before the first channel is walked.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import type { Person } from '../providers/people.js';
import type { Provider, ProviderSettings } from '../providers/types.js';
import { writeJsonAtomic } from '../state.js';
import { walkerFor } from '../walk/threads.js';

const DAY_MS = 86_400_000;

export interface PeopleRun {
  provider: Provider;
  settings: ProviderSettings;
  http: HttpClient;
  logger: Logger;
  stateDir: string;
  /** the source's identity: the profile's provider and normalized API root */
  source: string;
  refresh: boolean;
  signal?: AbortSignal | undefined;
}

interface Kept {
  fetchedAt: number;
  source: string;
  people: Person[];
}

const fileOf = (source: string) => `people-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.json`;

/** The directory (kept or walked), also set as `$people`; undefined when the definition has none. */
export async function loadPeople(run: PeopleRun): Promise<Person[] | undefined> {
  const part = run.provider.people;
  if (!part || !run.provider.run) return undefined;
  const dir = join(run.stateDir, 'people');
  const name = fileOf(run.source);
  let people = run.refresh ? undefined : await readKept(join(dir, name), run.source);
  if (people === undefined) {
    people = await walkPeople(part.provider, run);
    await writeJsonAtomic(dir, name, { fetchedAt: Date.now(), source: run.source, people } satisfies Kept);
  } else {
    run.logger.debug(`${run.provider.name}: people directory kept from earlier today (${people.length}); --refresh-people walks it again`);
  }
  const byId: Record<string, unknown> = Object.create(null);
  for (const person of people) byId[person.id] = person.raw;
  run.provider.run.values = { ...run.provider.run.values, people: byId };
  return people;
}

async function readKept(path: string, source: string): Promise<Person[] | undefined> {
  try {
    const kept = JSON.parse(await readFile(path, 'utf8')) as Kept;
    const fresh = typeof kept.fetchedAt === 'number' && Date.now() - kept.fetchedAt < DAY_MS && kept.fetchedAt <= Date.now();
    return fresh && kept.source === source && Array.isArray(kept.people) ? kept.people : undefined;
  } catch {
    // none kept, or unreadable: walked again
    return undefined;
  }
}

async function walkPeople(provider: Provider, run: PeopleRun): Promise<Person[]> {
  const people: Person[] = [];
  const walk = walkerFor(provider, {
    http: run.http,
    settings: run.settings,
    target: { id: '', kind: 'channel' },
    pageSize: provider.defaultPageSize,
    concurrency: 1,
    until: undefined,
    logger: run.logger,
    label: `${provider.name} people directory`,
    signal: run.signal,
  });
  for await (const batch of walk) for (const entry of batch.entries) if (entry.person) people.push(entry.person);
  run.logger.info(`${provider.name}: people directory walked (${people.length})`);
  return people;
}
