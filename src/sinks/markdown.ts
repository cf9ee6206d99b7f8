/**
 * A transcript for people, valid CommonMark:
 *
 *     # relation · C1 — 3 messages, 2024-01-23 → 2024-01-24 (times in UTC+08:00)
 *
 *     ## 2024-01-23
 *
 *     **alice** · 09:15\
 *     first line\
 *     second line
 *
 *     **bob** · 09:16 · _edited 2024-01-23 09:20_
 *     > ↪ reply to **alice**: first line second line
 *
 *     text of the reply\
 *     📎 photo.png <https://example.com/photo.png>
 *
 * Every block is preceded by a blank line and ends with one newline, so an
 * --incremental append only has to start with its own blank line.
 * All text from the server goes through escape-markdown.
 */
import { messageTime, type Attachment, type Message } from '../message.js';
import {
  HARD_BREAK,
  cleanText,
  escapeMarkdownInline,
  escapeMarkdownLines,
  markdownImage,
  markdownUrl,
} from '../text/escape-markdown.js';
import { stripBidi } from '../text/sanitize.js';
import { UTC, formatLocal, parseZone, type Zone } from '../text/zone.js';
import { relativeUrl } from './html.js';
import { EMPTY_REPLY_INDEX, type ReplyIndex } from './reply-context.js';
import type { ChannelSummary, Sink } from './types.js';

export function createMarkdownSink(): Sink {
  let zone: Zone = UTC;
  let currentDay: string | null = null;
  let replies: ReplyIndex = EMPTY_REPLY_INDEX;
  return {
    quotesReplies: true,
    begin(summary) {
      zone = parseZone(summary.timezone ?? 'UTC');
      replies = summary.replies ?? EMPTY_REPLY_INDEX;
      // Continuing a file: its last day heading still applies to the same day.
      currentDay = summary.append ? summary.append.lastDay : null;
      if (summary.append) return '';
      // Several channels in one stream: the next title must not continue the last message's paragraph.
      return `${summary.continues ? '\n' : ''}${formatTitle(summary, zone)}\n`;
    },
    format(message) {
      const local = formatLocal(messageTime(message), zone);
      let out = '';
      if (local.day !== currentDay) {
        currentDay = local.day;
        out = `\n## ${local.day}\n`;
      }
      return `${out}\n${formatMessage(message, local.time, zone, replies)}`;
    },
    end: () => '',
  };
}

/** The day (YYYY-MM-DD) an ISO timestamp falls on in a zone (undefined = UTC). */
export function dayOf(isoTimestamp: string, timezone: string | undefined): string {
  return formatLocal(Date.parse(isoTimestamp), parseZone(timezone ?? 'UTC')).day;
}

/**
 * The last day heading in force once this channel's messages are written:
 * what the next --incremental run passes as `append.lastDay`.
 */
export function lastDayWritten(summary: ChannelSummary): string | null {
  const lastWritten = summary.order === 'asc' ? summary.last : summary.first;
  if (lastWritten === null) return summary.append?.lastDay ?? null;
  return dayOf(lastWritten, summary.timezone);
}

function formatTitle(summary: ChannelSummary, zone: Zone): string {
  const first = summary.first !== null ? formatLocal(Date.parse(summary.first), zone).day : null;
  const last = summary.last !== null ? formatLocal(Date.parse(summary.last), zone).day : null;
  let what: string;
  if (summary.growing) {
    // --incremental appends below this title for years: a count or an end date would soon be false.
    // asc transcripts only grow at the end, so where they start stays true.
    what = first !== null && summary.order === 'asc' ? `from ${first}` : 'kept up to date by --incremental';
  } else {
    const count = `${summary.count} ${summary.count === 1 ? 'message' : 'messages'}`;
    what = first === null || last === null ? count : first === last ? `${count}, ${first}` : `${count}, ${first} → ${last}`;
  }
  // Clock times mean nothing without their zone.
  const zoneName = zone.kind === 'fixed' && zone.name !== 'UTC' ? `UTC${zone.name}` : zone.name;
  const provider = escapeMarkdownInline(summary.provider);
  const channel = escapeMarkdownInline(summary.channel);
  const part = summary.part && summary.part.count > 1 ? `, part ${summary.part.index} of ${summary.part.count}` : '';
  return `# ${provider} · ${channel} — ${what} (times in ${escapeMarkdownInline(zoneName)})${part}`;
}

function formatMessage(message: Message, time: string, zone: Zone, replies: ReplyIndex): string {
  const head = formatHead(message, time, zone);
  const body = [...formatText(message), ...message.attachments.map(formatAttachment)];
  if (message.replyTo) {
    // A block quote may interrupt the head's paragraph, but the body needs a
    // blank line after it or it would continue the quote lazily.
    const quote = `> ↪ reply to ${formatQuoted(message.replyTo, replies)}`;
    return body.length > 0 ? `${head}\n${quote}\n\n${body.join(HARD_BREAK)}\n` : `${head}\n${quote}\n`;
  }
  return body.length > 0 ? `${head}${HARD_BREAK}${body.join(HARD_BREAK)}\n` : `${head}\n`;
}

/** The quoted message's author and the start of its text when it is in the export, else its id. */
function formatQuoted(id: string, replies: ReplyIndex): string {
  const quoted = replies.get(id);
  if (!quoted) return `message ${escapeMarkdownInline(id)}`;
  const author = escapeMarkdownInline(quoted.author) || escapeMarkdownInline(id);
  const text = escapeMarkdownInline(quoted.text);
  return text === '' ? `**${author}**` : `**${author}**: ${text}`;
}

/** An image message whose text is the image's URL (relation IMAGE) shows the image; any other text is text. */
function formatText(message: Message): string[] {
  if (message.type === 'image') {
    // --media: the local copy is shown among the attachments instead of the remote picture.
    if (message.attachments.some((a) => a.url === message.text && a.file)) return [];
    const image = markdownImage(message.text);
    if (image !== undefined) return [image];
  }
  return escapeMarkdownLines(message.text);
}

function formatHead(message: Message, time: string, zone: Zone): string {
  // Trimmed and non-empty, so the ** always pair up into strong emphasis. A system
  // message without a name has no sender to show: relation's is a row of zeros.
  const name =
    escapeMarkdownInline(message.sender.name ?? '') ||
    (message.type === 'system' ? '' : escapeMarkdownInline(message.sender.id) || '(unknown)');
  let head = name === '' ? `_system_ · ${time}` : `**${name}** · ${time}`;
  if (name === '') {
    if (message.editedAt !== null) {
      const edited = formatLocal(Date.parse(message.editedAt), zone);
      head += ` · _edited ${edited.day} ${edited.time}_`;
    }
    if (message.deleted) head += ' · _deleted_';
    return head;
  }
  const type = escapeMarkdownInline(message.type);
  if (type !== '' && message.type !== 'text') head += ` · _${type}_`;
  if (message.editedAt !== null) {
    const edited = formatLocal(Date.parse(message.editedAt), zone);
    head += ` · _edited ${edited.day} ${edited.time}_`;
  }
  if (message.deleted) head += ' · _deleted_';
  return head;
}

function formatAttachment(attachment: Attachment): string {
  const label = attachment.name !== null && attachment.name !== attachment.url ? escapeMarkdownInline(attachment.name) : '';
  if (attachment.file) {
    // --media: the local copy, by a relative link whose every segment is percent-encoded (so
    // nothing in it can end the destination); pictures are shown. The label escapes every
    // punctuation mark: inside [ ] a bare ] or ( would end it and start a link of its own.
    const target = `(<${relativeUrl(attachment.file)}>)`;
    const name = attachment.name !== null && attachment.name !== attachment.url ? attachment.name : (attachment.file.split('/').pop() ?? '');
    const text = linkLabel(name) || 'file';
    return isPicture(attachment) ? `📎 ![${text}]${target}` : `📎 [${text}]${target}`;
  }
  return `📎 ${label === '' ? '' : `${label} `}${markdownUrl(attachment.url)}`;
}

function linkLabel(text: string): string {
  return stripBidi(cleanText(text))
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

function isPicture(attachment: Attachment): boolean {
  return /^image(\/|$)/i.test(attachment.type ?? '') || /\.(png|jpe?g|gif|webp|avif|bmp)$/i.test(attachment.file ?? '');
}
