import { firstRequest } from '../providers/engine.js';
import { PartialError } from '../errors.js';
import { AddressGuard } from '../http/address-guard.js';
import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import { MediaStage, describeMediaFailures, type ChannelMedia, type MediaFailure } from '../media/stage.js';
import { MediaStore } from '../media/store.js';
import type { ChannelTarget, Provider, ProviderSettings } from '../providers/types.js';
import type { DumpPlan } from '../run/types.js';

/** The run's media stage (--media), or undefined. */
export async function openMediaStage(
  plan: DumpPlan,
  settings: ProviderSettings,
  credentials: Record<string, string>,
  http: HttpClient,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<MediaStage | undefined> {
  if (!plan.media) return undefined;
  const store = await MediaStore.open(plan.media.dir, (line) => logger.warn(line));
  const api = new URL(settings.baseUrl);
  return new MediaStage({
    store,
    http,
    credentials,
    credentialOrigin: api.origin,
    guard: await AddressGuard.create({ apiHost: api.hostname, allowPrivate: plan.media.allowPrivate }),
    maxBytes: plan.media.maxBytes,
    logger,
    signal,
  });
}

/**
 * After the channels: files earlier runs could not fetch are tried again
 * (those this run already tried are not), the index is saved, and each
 * channel's failures are named. Returns the error that makes the exit 5, if any.
 */
export async function finishMedia(
  stage: MediaStage,
  channels: Array<{ label: string; media?: ChannelMedia | undefined }>,
  logger: Logger,
): Promise<PartialError | undefined> {
  const earlier = await stage.retryEarlierFailures('media from earlier runs');
  await stage.close();
  let failed = 0;
  for (const { label, media } of channels) {
    if (!media) continue;
    const { downloaded, reused, refused } = media.stats;
    if (downloaded + reused + refused + media.failures.length > 0) {
      const parts = [`${downloaded} downloaded`, `${reused} already in the media directory`];
      if (media.failures.length) parts.push(`${media.failures.length} failed`);
      if (refused) parts.push(`${refused} refused`);
      logger.info(`${label}: media files: ${parts.join(', ')}`);
    }
    if (media.failures.length > 0) {
      failed += media.failures.length;
      logger.error(`${describeMediaFailures(label, media.failures)} — they are tried again by the next --media run`);
    }
  }
  const stillFailing: MediaFailure[] = earlier.failures;
  if (earlier.fetched > 0) logger.info(`media: ${earlier.fetched} files earlier runs could not download are now in the media directory`);
  if (stillFailing.length > 0) {
    failed += stillFailing.length;
    logger.error(`${describeMediaFailures('earlier runs', stillFailing)} — still failing; tried again by the next --media run`);
  }
  for (const down of stage.hosts.list()) {
    if (down.skipped > 0) logger.warn(`media: ${down.host} was unreachable (${down.reason}): ${down.skipped} more ${down.skipped === 1 ? 'file there was' : 'files there were'} not tried; the next --media run tries them again`);
  }
  if (stage.refusals.size > 0) {
    const [first] = stage.refusals.values();
    const more = stage.refusals.size > 1 ? ` (and ${stage.refusals.size - 1} more)` : '';
    logger.warn(`media: ${stage.refusals.size} ${stage.refusals.size === 1 ? 'URL points' : 'URLs point'} where downloads are not allowed, not fetched: ${first}${more}; their messages keep the remote links`);
  }
  if (failed === 0) return undefined;
  return new PartialError(`${failed} media ${failed === 1 ? 'file' : 'files'} could not be downloaded; every message was exported`);
}

/** The headers that carry the API's credentials (those of its first request): only ever sent to its own origin. */
export function credentialHeaders(provider: Provider, settings: ProviderSettings, target: ChannelTarget): Record<string, string> {
  return firstRequest(provider, settings, target, 1).headers;
}
