import { redactUrl } from '../text/sanitize.js';
import type { Profile } from './schema.js';

/** Enough of the tail to tell two credentials apart, but only when that tail is a small part of it. */
export function redactSecret(value: string): string {
  return value.length >= 12 ? `••••${value.slice(-4)}` : '••••';
}

export function redactProfile(profile: Profile): Profile {
  const copy: Profile = { ...profile };
  if (copy.token !== undefined) copy.token = redactSecret(copy.token);
  if (copy.apiKey !== undefined) copy.apiKey = redactSecret(copy.apiKey);
  if (copy.baseUrl !== undefined && baseUrlHasSecrets(copy.baseUrl)) copy.baseUrl = redactUrl(copy.baseUrl);
  return copy;
}

/** A base URL may carry credentials of its own (user:password@, ?token=…). */
function baseUrlHasSecrets(value: string): boolean {
  try {
    const url = new URL(value);
    return Boolean(url.username || url.password) || [...url.searchParams.keys()].some((key) => /token|key|secret|password|auth|sig/i.test(key));
  } catch {
    return false;
  }
}
