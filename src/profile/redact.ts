import type { Profile } from './schema.js';

/** Enough of the tail to tell two credentials apart, but only when that tail is a small part of it. */
export function redactSecret(value: string): string {
  return value.length >= 12 ? `••••${value.slice(-4)}` : '••••';
}

export function redactProfile(profile: Profile): Profile {
  const copy: Profile = { ...profile };
  if (copy.token !== undefined) copy.token = redactSecret(copy.token);
  if (copy.apiKey !== undefined) copy.apiKey = redactSecret(copy.apiKey);
  return copy;
}
