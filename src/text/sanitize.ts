/**
 * Everything printed to stderr passes through here: server text may carry
 * ANSI escapes or control characters that would repaint a terminal, and no
 * credential may ever reach the screen or a log, whatever path it took.
 */

const secrets = new Set<string>();

/** Remember a credential so that every later message redacts it. */
export function registerSecret(value: string | undefined): void {
  // Very short values would redact ordinary words; they are not credentials worth the noise.
  if (value && value.length >= 4) secrets.add(value);
}

// CSI / OSC / other ESC sequences, then remaining C0/C1 controls except tab.
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function stripControl(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, '');
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('••••');
  }
  return out;
}

/** Safe to print: one line, no escapes, no secrets. */
export function sanitizeForTerminal(text: string): string {
  return redactSecrets(stripControl(text)).replace(/\n/g, ' ');
}

/** A short, printable excerpt of a response body for error messages. */
export function excerpt(text: string, max = 120): string {
  const flat = sanitizeForTerminal(text).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A URL with userinfo and credential-looking query values removed. */
export function redactUrl(input: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    return redactSecrets(String(input));
  }
  url.username = '';
  url.password = '';
  for (const key of [...url.searchParams.keys()]) {
    if (/token|key|secret|password|auth|sig/i.test(key)) url.searchParams.set(key, '••••');
  }
  return redactSecrets(decodeURIComponentSafe(url.toString()));
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text;
  }
}
