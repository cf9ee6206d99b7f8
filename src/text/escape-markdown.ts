/**
 * Message text in a Markdown transcript must render as the characters the
 * sender typed and nothing else: no heading, link, image, HTML, table, code,
 * emphasis, list, blockquote or rule, and no way out of its paragraph.
 *
 * A character is escaped only where it would otherwise become markup at that
 * position, in CommonMark or a common extension (GFM tables and
 * strikethrough, :emoji:, $math$, footnotes, ==mark==, {attributes}), so a
 * transcript read as plain text stays readable: `#1`, `li_si`, `Ω-user`,
 * `a.b`, `5 * 3` and URLs are left alone. A backslash before ASCII
 * punctuation is that literal character in CommonMark, so escaping is
 * lossless to a reader. Decisions:
 * - anywhere in a line: `` ` `` `[` `|` `^` `{` always (code, links and
 *   images, tables, extensions); `*` `~` unless between blanks; `_` unless
 *   inside a word or between blanks; `<` before a tag or autolink start; `&`
 *   of an entity; `\` before punctuation or at the end; `$` opening math;
 *   `==` `++` runs; `:` opening an :emoji:;
 * - at the start of a line (after any blanks): `>`, a heading's `#`, a list
 *   or definition marker (`-` `+` `*` `:` before a blank), a rule or setext
 *   underline (`---`, `===`, `* * *`), and the `.` or `)` of `1.` / `1)`.
 * A bare http(s) URL may still become a link to itself in renderers that
 * linkify (GFM); no text can choose a link target that differs from what it
 * shows.
 */
import { stripBidi, stripControl } from './sanitize.js';

/**
 * Joins lines inside one paragraph. A backslash before the newline rather
 * than two trailing spaces: editors strip trailing spaces, and text cannot
 * forge or cancel it because a backslash at the end of its own lines is escaped.
 */
export const HARD_BREAK = '\\\n';

const LEADING_BLANKS = /^[ \t]+/;
const NBSP = '\u00a0';
// What JS trim() removes, which is what markdown-it trims off a paragraph.
const BLANK_LINE = /^\s*$/;
// http(s) only, and nothing an autolink cannot hold (CommonMark: no space, < > or control).
const AUTOLINKABLE = /^https?:\/\/[^\s<>\u0000-\u001f\u007f-\u009f]+$/i;
// An image destination in <…>: as an autolink, and no backslash (escapes are processed there).
const IMAGE_URL = /^https?:\/\/[^\s<>\\\u0000-\u001f\u007f-\u009f]+$/i;
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
const ENTITY = /^&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});/;
const EMOJI_SHORTCODE = /^:[A-Za-z0-9_+-]+:/;
const TAG_START = /[A-Za-z/!?]/;
const WORD = /[\p{L}\p{N}]/u;
const BLANK = /\s/;
// every character needsEscape can answer true for
const CANDIDATES = /[\\`[|^{*~_<&$=+:]/;
const THEMATIC_BREAK = /^([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const SETEXT_UNDERLINE = /^(?:-+|=+)[ \t]*$/;
const ATX_HEADING = /^#{1,6}(?:[ \t]|$)/;
const ORDERED_MARKER = /^(\d{1,9})([.)])(?=[ \t]|$)/;

/**
 * Text as a reader should see it: \r\n and \r become \n, ANSI escape
 * sequences and control characters other than \n and \t are removed.
 */
export function cleanText(text: string): string {
  return stripControl(text.replace(/\r\n?/g, '\n'));
}

const isBlank = (ch: string | undefined) => ch === undefined || BLANK.test(ch);
const isWord = (ch: string | undefined) => ch !== undefined && WORD.test(ch);

/** Whether the character at `i` would start or close markup where it stands. */
function needsEscape(text: string, i: number): boolean {
  const ch = text[i]!;
  const prev = text[i - 1];
  const next = text[i + 1];
  switch (ch) {
    case '\\':
      return next === undefined || ASCII_PUNCTUATION.test(next);
    case '`':
    case '[':
    case '|':
    case '^':
    case '{':
      return true;
    case '*':
    case '~':
      return !(isBlank(prev) && isBlank(next));
    case '_':
      return !((isWord(prev) && isWord(next)) || (isBlank(prev) && isBlank(next)));
    case '<':
      return next !== undefined && TAG_START.test(next);
    case '&':
      return ENTITY.test(text.slice(i, i + 40));
    case '$':
      return prev === '$' || (next !== undefined && !BLANK.test(next) && !/[0-9]/.test(next));
    case '=':
    case '+':
      return prev === ch || next === ch;
    case ':':
      return EMOJI_SHORTCODE.test(text.slice(i, i + 64));
    default:
      return false;
  }
}

/** Escape what would be inline markup where it stands; no line-start rules. */
export function escapePunctuation(text: string): string {
  // most chat lines hold none of the characters that can need it
  if (!CANDIDATES.test(text)) return text;
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (!needsEscape(text, i)) continue;
    out += `${text.slice(from, i)}\\`;
    from = i;
  }
  return out + text.slice(from);
}

/**
 * A multi-line text as escaped lines, to be joined with HARD_BREAK inside a
 * paragraph. Leading and trailing blank lines are dropped: they are invisible
 * anyway, and a blank last line would leave the final hard break dangling as a
 * literal backslash. Blank lines inside stay, as an empty line that holds only
 * the hard break, so they cannot end the paragraph.
 */
export function escapeMarkdownLines(text: string): string[] {
  const lines = cleanText(text).split('\n');
  let start = 0;
  let end = lines.length;
  while (start < end && BLANK_LINE.test(lines[start] ?? '')) start++;
  while (end > start && BLANK_LINE.test(lines[end - 1] ?? '')) end--;
  return lines.slice(start, end).map(escapeLine);
}

/**
 * One-line text (a name, an id, a file name): whitespace runs, newlines
 * included, collapse to one space and the ends are trimmed, so it can sit
 * inside **strong** or a heading; bidi controls are dropped. May return ''.
 * It never starts a line, so only inline rules apply.
 */
export function escapeMarkdownInline(text: string): string {
  return escapePunctuation(stripBidi(cleanText(text)).replace(/\s+/g, ' ').trim());
}

/**
 * A URL as an autolink `<…>` when it is http(s) and an autolink can hold it
 * verbatim (backslash escapes are not processed inside autolinks, so it must
 * need none); anything else is shown as escaped, unclickable text.
 */
export function markdownUrl(url: string): string {
  return AUTOLINKABLE.test(url) ? `<${url}>` : escapeMarkdownInline(url);
}

/** `![image](<url>)` for a plain http(s) URL, else undefined (show it as text). */
export function markdownImage(url: string, alt = 'image'): string | undefined {
  const trimmed = url.trim();
  return IMAGE_URL.test(trimmed) ? `![${escapeMarkdownInline(alt).replace(/\]/g, '\\]')}](<${trimmed}>)` : undefined;
}

function escapeLine(line: string): string {
  const blanks = LEADING_BLANKS.exec(line)?.[0] ?? '';
  const indent = blanks === '' ? '' : nbspIndent(blanks);
  const rest = line.slice(blanks.length);
  // Other leading whitespace (NBSP, U+3000) is kept; block markup is judged after it, as a
  // renderer that trims Unicode space would see the line.
  const lead = /^\s*/.exec(rest)![0];
  const body = rest.slice(lead.length);
  return indent + lead + escapeLineStart(body);
}

function escapeLineStart(body: string): string {
  const escaped = escapePunctuation(body);
  if (body === '' || escaped.startsWith('\\')) return escaped;
  if (startsBlock(body)) return `\\${escaped}`;
  const ordered = ORDERED_MARKER.exec(body);
  if (ordered) return `${ordered[1]}\\${escapePunctuation(body.slice(ordered[1]!.length))}`;
  return escaped;
}

/** Whether a line (from its first non-blank character) would open a block construct. */
function startsBlock(body: string): boolean {
  const first = body[0]!;
  const next = body[1];
  switch (first) {
    case '>':
      return true;
    case '#':
      return ATX_HEADING.test(body);
    case '-':
    case '+':
    case '*':
    case ':':
      // a list item or definition needs a blank after its marker; rules and setext underlines are the char alone
      return isBlank(next) || THEMATIC_BREAK.test(body) || SETEXT_UNDERLINE.test(body);
    case '=':
      return SETEXT_UNDERLINE.test(body);
    default:
      return false;
  }
}

/**
 * Leading spaces or tabs would make an indented code block (4 columns) or be
 * dropped; no-break spaces are not block-level whitespace in CommonMark, so
 * they keep the indentation visible and inert. Tabs expand to 4-column stops.
 */
function nbspIndent(blanks: string): string {
  let column = 0;
  for (const ch of blanks) column = ch === '\t' ? column + 4 - (column % 4) : column + 1;
  return NBSP.repeat(column);
}
