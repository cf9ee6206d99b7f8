import { stat } from 'node:fs/promises';
import { redactSecret } from '../profile/redact.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { Provider, ProviderSettings } from '../providers/types.js';
import { firstRequest, sentPageSize } from '../providers/engine.js';
import { redactUrl } from '../text/sanitize.js';
import { missingCredentials } from './plan.js';
import type { ChannelJob, DumpPlan } from '../run/types.js';
import { readOwnState } from '../targets/incremental-target.js';

/**
 * The plan, shown instead of run: everything resolved (secrets redacted),
 * what each channel would write where, and the first request. A missing
 * credential is said, not fatal: the rest is what the user wants to check.
 */
export async function printDryRun(
  stdout: NodeJS.WritableStream,
  profile: ResolvedProfile,
  provider: Provider,
  settings: ProviderSettings,
  plan: DumpPlan,
  jobs: ChannelJob[],
  stateDir: string,
): Promise<void> {
  // --all-channels: the channels are known once the list is walked; its first request is the run's first
  const listing = jobs.length === 0 ? provider.channels?.listings[0]?.provider : undefined;
  const request = listing
    ? firstRequest(listing, settings, { id: '', kind: 'channel' }, listing.defaultPageSize, undefined)
    : firstRequest(provider, settings, jobs[0]!.target, plan.pageSize, plan.window.until);
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([key, value]) => [key, redactHeader(value, profile)]),
  );
  const channels = [];
  for (const job of jobs) {
    channels.push({
      id: job.target.kind === 'peer' ? `peer:${job.target.id}` : job.target.id,
      output: job.path ?? (plan.output.kind === 'stdout' ? '-' : undefined),
      ...(plan.incremental ? { incremental: await incrementalPlan(stateDir, job) } : {}),
    });
  }
  const shown = {
    profile: profile.name,
    provider: profile.provider,
    baseUrl: redactUrl(plan.baseUrl),
    token: profile.token ? redactSecret(profile.token) : null,
    // only where the provider sends one: a key it never uses would only raise questions
    ...(provider.credentials.apiKey === 'unused' ? {} : { apiKey: profile.apiKey ? redactSecret(profile.apiKey) : null }),
    missing: missingCredentials(profile, provider).map((problem) => `${problem.message} — ${problem.hint}`),
    channels: listing ? 'every readable channel the definition lists (--all-channels; listed when the run starts)' : channels,
    format: plan.format,
    output: plan.output.kind === 'stdout' ? '-' : plan.output.kind === 'file' ? plan.output.path : plan.output.kind === 'template' ? plan.output.pattern : `${plan.output.dir}/`,
    order: plan.order,
    since: plan.window.since !== undefined ? new Date(plan.window.since).toISOString() : null,
    until: plan.window.until !== undefined ? new Date(plan.window.until).toISOString() : null,
    limit: plan.limit ?? null,
    // what the requests carry: --page-size is lowered to the definition's maximum
    pageSize: sentPageSize(provider, plan.pageSize),
    ...(sentPageSize(provider, plan.pageSize) !== plan.pageSize ? { pageSizeAsked: plan.pageSize } : {}),
    rate: profile.rate,
    concurrency: profile.concurrency,
    retries: profile.retries,
    timeout: profile.timeout,
    // the zone in force, the provider's default included; null where times carry their own zone
    timezone: profile.timezone ?? provider.defaultTimezone ?? null,
    ...(plan.format === 'md' ? { tz: plan.displayZone } : {}),
    ...(plan.excel ? { excel: true } : {}),
    sources: profile.sources,
    firstRequest: { method: 'GET', url: redactUrl(request.url), headers },
  };
  stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}

/** What an --incremental run would do with this channel: a whole export, or an append after the newest message recorded. */
async function incrementalPlan(stateDir: string, job: ChannelJob): Promise<string> {
  let state;
  try {
    state = await readOwnState(stateDir, job, job.path ?? '-');
  } catch (error) {
    return `cannot tell: ${(error as Error).message}`;
  }
  if (!state) return 'full export (no state yet)';
  const output = job.path ?? '-';
  if (output !== '-' && !(await stat(output).catch(() => undefined))) return `full export (${output} is gone)`;
  const newest = state.newest ? new Date(state.newest.time).toISOString() : null;
  return newest ? `append what is newer than ${newest} (${state.messages} messages so far)` : 'append (nothing exported yet)';
}

function redactHeader(value: string, profile: ResolvedProfile): string {
  let out = value;
  for (const secret of [profile.token, profile.apiKey]) {
    if (secret && out.includes(secret)) out = out.split(secret).join(redactSecret(secret));
  }
  return out;
}
