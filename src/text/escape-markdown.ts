/**
 * Message text in a Markdown transcript must render as the characters the
 * sender typed and nothing else: no heading, link, image, HTML, table, code,
 * emphasis, list, blockquote or rule, and no way out of its paragraph.
 *
 * The approach is deliberately blunt, because it has to hold for every
 * CommonMark renderer and the common extensions (GFM tables, strikethrough,
 * bare-URL autolinks, :emoji:, $math$, footnotes, ==mark==): every ASCII
 * punctuation character any of them gives meaning to is backslash-escaped.
 * CommonMark defines a backslash before any ASCII punctuation as that literal
 * character, so escaping is lossless to a reader.
 */
import { stripControl } from './sanitize.js';

/**
 * Joins lines inside one paragraph. A backslash before the newline rather
 * than two trailing spaces: editors strip trailing spaces, and text cannot
 * forge or cancel it because its own backslashes are escaped.
 */
export const HARD_BREAK = '\\\n';

// All ASCII punctuation except , ; ? % / ' " which no CommonMark construct or
// common extension starts, so ordinary prose keeps some of its looks.
const SPECIAL = /[\\`*_{}[\]()<>#+\-.!|~&:@=$^]/g;
const LEADING_BLANKS = /^[ \t]+/;
const NBSP = '\u00a0';
// What JS trim() removes, which is what markdown-it trims off a paragraph.
const BLANK_LINE = /^\s*$/;
// Embeddings, overrides and isolates: in a name they would reverse the rest of
// its line (the time, the markers) on screen.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
// http(s) only, and nothing an autolink cannot hold (CommonMark: no space, < > or control).
const AUTOLINKABLE = /^https?:\/\/[^\s<>\u0000-\u001f\u007f-\u009f]+$/i;

/**
 * Text as a reader should see it: \r\n and \r become \n, ANSI escape
 * sequences and control characters other than \n and \t are removed.
 */
export function cleanText(text: string): string {
  return stripControl(text.replace(/\r\n?/g, '\n'));
}

/** Backslash-escape every character in SPECIAL. */
export function escapePunctuation(text: string): string {
  return text.replace(SPECIAL, '\\$&');
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
 */
export function escapeMarkdownInline(text: string): string {
  return escapePunctuation(cleanText(text).replace(BIDI_CONTROLS, '').replace(/\s+/g, ' ').trim());
}

/**
 * A URL as an autolink `<…>` when it is http(s) and an autolink can hold it
 * verbatim (backslash escapes are not processed inside autolinks, so it must
 * need none); anything else is shown as escaped, unclickable text.
 */
export function markdownUrl(url: string): string {
  return AUTOLINKABLE.test(url) ? `<${url}>` : escapeMarkdownInline(url);
}

function escapeLine(line: string): string {
  return escapePunctuation(line).replace(LEADING_BLANKS, nbspIndent);
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
