/**
 * Everything printed to stderr passes through here: server text may carry
 * ANSI escapes or control characters that would repaint a terminal, and no
 * credential may ever reach the screen or a log, whatever path it took.
 */

const secrets = new Map<string, RegExp>();

/** Remember a credential so that every later message redacts it, in every form it may be printed in. */
export function registerSecret(value: string | undefined): void {
  // Very short values would redact ordinary words; they are not credentials worth the noise.
  if (value && value.length >= 4 && !secrets.has(value)) secrets.set(value, secretPattern(value));
}

/**
 * One pattern for every way a server or a log may spell the secret: each
 * character literal or JSON-escaped (`\"`, `\/`, `\u00XX` in any case),
 * or percent-encoded (either hex case, `+` for a space), mixed freely; and
 * the whole secret in base64 / base64url (an echoed Basic or JWT-like blob).
 */
function secretPattern(secret: string): RegExp {
  const perChar = Array.from(secret, (char) => {
    const forms = new Set<string>([escapeRegExp(char)]);
    const short = JSON_SHORT_ESCAPES[char];
    if (short) forms.add(escapeRegExp(short));
    for (let i = 0; i < char.length; i++) forms.add(`\\\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`);
    if (char.length === 2) {
      forms.add(`\\\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}\\\\u${char.charCodeAt(1).toString(16).padStart(4, '0')}`);
    }
    forms.add(
      Array.from(Buffer.from(char, 'utf8'), (byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''),
    );
    if (char === ' ') forms.add('\\+');
    return `(?:${[...forms].join('|')})`;
  });
  const base64 = Buffer.from(secret, 'utf8').toString('base64').replace(/=+$/, '');
  const base64url = Buffer.from(secret, 'utf8').toString('base64url');
  const whole = [perChar.join(''), escapeRegExp(base64), escapeRegExp(base64url)];
  // Hex digits and \u are case-insensitive; so, harmlessly, is the rest.
  return new RegExp(whole.join('|'), 'gi');
}

const JSON_SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '/': '\\/',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

// CSI / OSC / other ESC sequences, then remaining C0/C1 controls except tab.
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function stripControl(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, '');
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const pattern of secrets.values()) out = out.replace(pattern, '••••');
  return out;
}

/**
 * The most of one text a stderr line shows. A server's error message is
 * printed as it came (a 3 MB one was one 3 MB line): every piece of text on
 * its way to stderr passes here, so this is where it is cut.
 */
export const MAX_SHOWN_CHARS = 1000;
/** Server messages inside an error line: enough to read what the server said. */
export const MAX_SERVER_MESSAGE_CHARS = 300;

/** Safe to print: one line, no escapes, no secrets, at most `max` characters (redacted before it is cut). */
export function sanitizeForTerminal(text: string, max = MAX_SHOWN_CHARS): string {
  const clean = redactSecrets(stripControl(text)).replace(/\n/g, ' ');
  if (clean.length <= max) return clean;
  // not half of a surrogate pair at the cut
  const end = /[\ud800-\udbff]/.test(clean.charAt(max - 1)) ? max - 1 : max;
  return `${clean.slice(0, end)}… (${clean.length - end} more characters)`;
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
    // Not a URL (a bad port, a typo): still never print what looks like userinfo or a credential parameter.
    return redactSecrets(
      String(input)
        .replace(/^([a-z][a-z0-9+.-]*:\/*)[^/?#]*@/i, '$1')
        .replace(/([?&;][^=&#]*(?:token|key|secret|password|auth|sig)[^=&#]*=)[^&#]*/gi, '$1••••'),
    );
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
