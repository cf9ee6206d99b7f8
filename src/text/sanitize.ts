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
 * One pattern for every way a server or a log may spell the secret, at any
 * depth of escaping (a server that embeds its request headers as JSON inside
 * a JSON string escapes the token twice): each character literal, JSON-escaped
 * (`\"`, `\/`, `\n`, `\u00XX` in any case) behind any run of backslashes,
 * themselves literal, percent-encoded or `\u005c`; or percent-encoded to any
 * depth (`%22`, `%2522`, either hex case, `+` for a space), mixed freely. And
 * the secret in base64 / base64url, whole or inside a longer blob (an echoed
 * Basic `user:password`) at each of the three byte alignments, its characters
 * escaped the same ways.
 */
function secretPattern(secret: string): RegExp {
  const forms = [spelled(secret), ...base64Forms(secret).map(spelled)];
  // Hex digits and \u are case-insensitive; so, harmlessly, is the rest.
  return new RegExp(forms.join('|'), 'gi');
}

// A backslash at any depth: literal, percent-encoded (to any depth), or itself \u-escaped. Runs are bounded (depth 6
// of escaping needs 63) so that a hostile body of backslashes costs linear time, not quadratic in its length.
const BACKSLASH = '(?:(?:\\\\|%(?:25){0,8}5c)(?:u005c)?)';
const ANY_BACKSLASHES = `${BACKSLASH}{0,64}`;
const SOME_BACKSLASHES = `${BACKSLASH}{1,64}`;

/**
 * One character after another, each in any of its spellings. Backslashes in
 * the secret are one run with the escapes around them (any run of backslashes
 * matches them), so that no two runs in the pattern compete for the same
 * backslashes: with them competing, a hostile body of backslashes costs
 * exponential time. The backslashes before the first character are left out
 * of the match (they hide nothing), so a match starts only where a spelling of
 * the first character does.
 */
function spelled(text: string): string {
  const parts: string[] = [];
  let afterRun = true;
  for (const char of text) {
    if (char === '\\') {
      if (!afterRun || parts.length === 0) parts.push(SOME_BACKSLASHES);
      afterRun = true;
      continue;
    }
    const plain = [escapeRegExp(char), Array.from(Buffer.from(char, 'utf8'), (byte) => `%(?:25){0,8}${byte.toString(16).padStart(2, '0')}`).join('')];
    if (char === ' ') plain.push('\\+');
    const units = Array.from({ length: char.length }, (_, i) => `u${char.charCodeAt(i).toString(16).padStart(4, '0')}`);
    const escaped = [units.join(SOME_BACKSLASHES)];
    const short = JSON_SHORT_ESCAPES[char];
    if (short) escaped.push(short);
    parts.push(
      afterRun
        ? `(?:${[...plain, ...escaped].join('|')})`
        : `(?:${ANY_BACKSLASHES}(?:${plain.join('|')})|${SOME_BACKSLASHES}(?:${escaped.join('|')}))`,
    );
    afterRun = false;
  }
  return parts.join('');
}

/**
 * The stretches of base64 (and base64url) that depend only on the secret's
 * bytes, when it starts 0, 1 or 2 bytes into the encoded text: the characters
 * that mix in a neighbour's bits are left out. Too short a stretch would
 * redact ordinary words, so only long ones are kept.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set<string>();
  for (const offset of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const from = Math.ceil((offset * 8) / 6);
    const to = Math.floor((padded.length * 8) / 6);
    for (const encoding of ['base64', 'base64url'] as const) {
      const stretch = padded.toString(encoding).slice(from, to);
      if (stretch.length >= 6) forms.add(stretch);
    }
  }
  return [...forms];
}

// The letter after the backslash in JSON's short escapes (`"`, `\\`, `/` escape as themselves: the plain form covers them).
const JSON_SHORT_ESCAPES: Record<string, string> = { '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't' };

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

// CSI / OSC / other ESC sequences, then remaining C0/C1 controls except tab.
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

// Embeddings, overrides, isolates and direction marks (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C): in a name
// they reorder what is shown (`photo<RLO>gnp.exe` reads as "photoexe.png") and the rest of its line.
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A name (a file's, a sender's) without the controls that would make it read as another. */
export function stripBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, '');
}

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
