import { redactSecret } from '../profile/redact.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { Provider, ProviderSettings } from '../providers/types.js';
import { redactUrl } from '../text/sanitize.js';
import type { ChannelJob, DumpPlan } from './types.js';

export function printDryRun(
  stdout: NodeJS.WritableStream,
  profile: ResolvedProfile,
  provider: Provider,
  settings: ProviderSettings,
  plan: DumpPlan,
  jobs: ChannelJob[],
): void {
  const first = jobs[0]!;
  const request =
    provider.paging === 'cursor'
      ? provider.buildRequest(settings, first.target, {
          maxCreateAt: plan.window.until !== undefined ? plan.window.until - 1 : Number.MAX_SAFE_INTEGER,
          limit: plan.pageSize,
        })
      : provider.buildRequest(settings, first.target, { number: 1, size: plan.pageSize });
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([key, value]) => [key, redactHeader(value, profile)]),
  );
  const shown = {
    profile: profile.name,
    provider: profile.provider,
    baseUrl: redactUrl(plan.baseUrl),
    token: profile.token ? redactSecret(profile.token) : null,
    apiKey: profile.apiKey ? redactSecret(profile.apiKey) : null,
    channels: jobs.map((job) => (job.target.kind === 'peer' ? `peer:${job.target.id}` : job.target.id)),
    format: plan.format,
    output: plan.output.kind === 'stdout' ? '-' : plan.output.kind === 'file' ? plan.output.path : plan.output.kind === 'template' ? plan.output.pattern : `${plan.output.dir}/`,
    order: plan.order,
    since: plan.window.since !== undefined ? new Date(plan.window.since).toISOString() : null,
    until: plan.window.until !== undefined ? new Date(plan.window.until).toISOString() : null,
    limit: plan.limit ?? null,
    pageSize: plan.pageSize,
    rate: profile.rate,
    concurrency: profile.concurrency,
    retries: profile.retries,
    timeout: profile.timeout,
    timezone: profile.timezone ?? null,
    sources: profile.sources,
    firstRequest: { method: 'GET', url: redactUrl(request.url), headers },
  };
  stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}

function redactHeader(value: string, profile: ResolvedProfile): string {
  let out = value;
  for (const secret of [profile.token, profile.apiKey]) {
    if (secret && out.includes(secret)) out = out.split(secret).join(redactSecret(secret));
  }
  return out;
}

