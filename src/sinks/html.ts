/**
 * A transcript page a person opens in a browser (DESIGN.md section 3, HTML),
 * laid out after DiscordChatExporter's: a header per channel, a separator per
 * day, consecutive messages of one sender grouped under their name and
 * avatar, each message an <article data-id> in export order.
 *
 * The page must make no request and run nothing, whatever the messages say:
 * - every value from the server goes through the `html` template (escaped);
 *   only http(s) URLs found in a text become links, to themselves;
 * - a Content-Security-Policy allows no script at all, the one inline
 *   stylesheet by its hash, and images only from the page's own place
 *   (downloaded media) or data: URLs — never a remote host;
 * - remote files (no --media) are plain links, never <img>.
 * No style attributes anywhere (they would need 'unsafe-inline'): avatar
 * colours are classes.
 */
import { isHttpUrl } from '../text/http-url.js';
import { createHash } from 'node:crypto';
import { messageTime, type Attachment, type Message } from '../message.js';
import { cleanText } from '../text/escape-markdown.js';
import { stripBidi } from '../text/sanitize.js';
import { html, trustedHtml, type Html } from '../text/html.js';
import { UTC, formatLocal, parseZone, type Zone } from '../text/zone.js';
import { authorOf, EMPTY_REPLY_INDEX, type ReplyIndex } from './reply-context.js';
import type { ChannelSummary, DocumentInfo, PartInfo, Sink } from './types.js';

/** Consecutive messages of one sender further apart than this start a new group. */
const GROUP_GAP_MS = 10 * 60_000;
const AVATAR_COLOURS = 8;

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#2e3338;--muted:#5c6470;--faint:#747f8d;--line:#e3e5e8;--accent:#0068e0;--hover:#f6f6f7;--quote:#c4c9ce;--chip:#ebedef;--sys:#4f5660;--del:#d83c3e}
@media (prefers-color-scheme:dark){:root{--bg:#313338;--fg:#dbdee1;--muted:#b5bac1;--faint:#949ba4;--line:#3f4147;--accent:#00a8fc;--hover:#2e3035;--quote:#4e5058;--chip:#2b2d31;--sys:#b5bac1;--del:#f23f43}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.375 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.channel{max-width:1000px;margin:0 auto;padding:0 0 24px}
.channel+.channel{border-top:4px solid var(--line)}
.head{display:flex;gap:12px;align-items:center;padding:16px;border-bottom:1px solid var(--line)}
.head h1{margin:0;font-size:20px;line-height:1.25;overflow-wrap:anywhere}
.head .sub{margin:4px 0 0;color:var(--muted);font-size:13px}
.head .sub span+span::before{content:" · "}
.head .icon{flex:none;width:48px;height:48px;border-radius:50%;display:grid;place-items:center;background:var(--chip);font-size:22px}
.day{display:flex;align-items:center;gap:8px;margin:20px 16px 4px;color:var(--faint);font-size:12px;font-weight:600}
.day::before,.day::after{content:"";flex:1;border-top:1px solid var(--line)}
.group{position:relative;padding:2px 16px 2px 72px;margin-top:14px;min-height:44px}
.group>.avatar{position:absolute;left:16px;top:4px;width:40px;height:40px;border-radius:50%;object-fit:cover;display:grid;place-items:center;color:#fff;font-weight:600;font-size:17px;overflow:hidden;user-select:none}
.av0{background:#5865f2}.av1{background:#3ba55c}.av2{background:#faa61a}.av3{background:#ed4245}.av4{background:#eb459e}.av5{background:#747f8d}.av6{background:#1abc9c}.av7{background:#9b59b6}
.who{display:flex;flex-wrap:wrap;align-items:baseline;gap:0 8px;min-width:0}
.who .name{font-weight:600;overflow-wrap:anywhere;unicode-bidi:isolate}
.who time,.msg>.t,.system .t{color:var(--faint);font-size:12px}
.msg{position:relative;padding:1px 0;border-radius:4px;overflow-wrap:anywhere}
.msg:hover{background:var(--hover)}
[data-id]{scroll-margin-top:64px}
.msg:target{background:var(--hover);outline:2px solid var(--accent);outline-offset:2px}
.group>.msg>.t{position:absolute;left:-60px;width:50px;text-align:right;top:3px;font-size:11px;opacity:.85}
.group>.msg:first-of-type>.t{display:none}
.text{white-space:pre-wrap;unicode-bidi:isolate;text-align:left}
.msg>.text{display:inline}
.msg>.marks{display:inline}
.mark{display:inline-block;margin-left:4px;padding:0 5px;border-radius:3px;background:var(--chip);color:var(--muted);font-size:11px;vertical-align:1px}
.deleted>.text{color:var(--muted);text-decoration:line-through}
.deleted .mark.del{color:var(--del)}
.reply{display:flex;gap:6px;align-items:baseline;margin:2px 0 2px;padding-left:8px;border-left:3px solid var(--quote);color:var(--muted);font-size:13px;min-width:0}
.reply b{font-weight:600;color:var(--fg);flex:none;max-width:40%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;unicode-bidi:isolate}
.reply span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;unicode-bidi:isolate;min-width:0}
a.reply:hover{text-decoration:none;color:var(--fg)}
.system{display:flex;flex-wrap:wrap;gap:8px;align-items:baseline;padding:6px 16px 6px 72px;color:var(--sys);font-size:14px}
.system::before{content:"⚙";margin-left:-28px;width:20px;text-align:center;color:var(--faint)}
.system .text{font-style:italic}
.system>.reply{flex-basis:100%;order:-1}
.atts{display:flex;flex-wrap:wrap;gap:8px;margin:4px 0}
.att.file{display:inline-flex;gap:6px;align-items:center;max-width:100%;padding:8px 12px;border:1px solid var(--line);border-radius:6px;background:var(--chip);overflow-wrap:anywhere}
.att.image img{display:block;max-width:min(400px,100%);max-height:320px;border-radius:6px;background:var(--chip)}
.att.image{max-width:100%}
.empty{padding:24px 16px;color:var(--muted)}
footer{max-width:1000px;margin:0 auto;padding:16px;color:var(--faint);font-size:12px;border-top:1px solid var(--line)}
@media (max-width:600px){body{font-size:15px}.head{padding:12px}.head .icon{display:none}.group{padding:2px 10px 2px 52px}.group>.avatar{left:10px;width:32px;height:32px;font-size:14px}.group>.msg>.t{left:-48px;width:40px;font-size:10px}.system{padding:6px 10px 6px 52px}.day{margin:16px 10px 4px}.att.image img{max-height:240px}}
`.trim();

const CSS_HASH = createHash('sha256').update(CSS, 'utf8').digest('base64');

/**
 * No script, no connection, no plugin, no form, no base: only this page's own
 * stylesheet and images from the page's own directory (downloaded media).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${CSS_HASH}'`,
  // file: too: Firefox gives every local file an origin of its own, so 'self' alone would hide the media.
  "img-src 'self' data: file:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
].join('; ');

const IMAGE_EXTENSIONS = /\.(png|jpe?g|gif|webp|avif|bmp|ico|heic|heif)$/i;
// What a message's own text may turn into a link: http(s) and nothing that ends an
// attribute or a tag; trailing punctuation is left outside the link, as people write it.
const URL_IN_TEXT = /https?:\/\/[^\s<>"'`\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}。，、；：！？）」』】]+$/u;

export function createHtmlSink(): Sink {
  let zone: Zone = UTC;
  let replies: ReplyIndex = EMPTY_REPLY_INDEX;
  let part: PartInfo | undefined;
  let group: { sender: string; day: string; time: number } | undefined;
  let currentDay: string | null = null;
  let count = 0;

  const closeGroup = (): string => {
    if (!group) return '';
    group = undefined;
    return '</div>\n';
  };

  return {
    quotesReplies: true,
    openDocument(info) {
      return renderDocumentStart(info);
    },
    closeDocument() {
      return '<footer>Exported with chat-export. This page loads nothing from the network; pictures are local copies.</footer>\n</body>\n</html>\n';
    },
    begin(summary) {
      zone = parseZone(summary.timezone ?? 'UTC');
      replies = summary.replies ?? EMPTY_REPLY_INDEX;
      part = summary.part;
      group = undefined;
      currentDay = null;
      count = summary.count;
      return renderChannelHead(summary, zone).value;
    },
    format(message) {
      const time = messageTime(message);
      const local = formatLocal(time, zone);
      let out = '';
      if (local.day !== currentDay) {
        out += closeGroup();
        currentDay = local.day;
        out += html`<div class="day" role="separator"><time datetime="${local.day}">${local.day}</time></div>\n`.value;
      }
      if (message.type === 'system') {
        out += closeGroup();
        return out + renderSystem(message, local.time, zone, replies, part).value;
      }
      const joins = group && group.sender === message.sender.id && group.day === local.day && Math.abs(time - group.time) <= GROUP_GAP_MS;
      if (!joins) {
        out += closeGroup();
        out += renderGroupHead(message, local).value;
        group = { sender: message.sender.id, day: local.day, time };
      } else if (group) {
        group.time = time;
      }
      return out + renderMessage(message, local.time, zone, replies, part).value;
    },
    end() {
      const empty = count === 0 ? '<p class="empty">No messages in this export.</p>\n' : '';
      return `${closeGroup()}${empty}</section>\n`;
    },
  };
}

function renderDocumentStart(info: DocumentInfo): string {
  const what = info.channels.length === 1 ? `${info.provider} · ${info.channels[0]}` : `${info.provider} · ${info.channels.length} channels`;
  const title = info.part && info.part.count > 1 ? `${what} (part ${info.part.index} of ${info.part.count})` : what;
  return html`<!DOCTYPE html>
<html lang="und">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="chat-export">
<title>${title}</title>
<style>${trustedHtml(CSS)}</style>
</head>
<body>
`.value;
}

function zoneLabel(zone: Zone): string {
  return zone.kind === 'fixed' && zone.name !== 'UTC' ? `UTC${zone.name}` : zone.name;
}

/** "part 2 of 5" with links to the first, previous, next and last parts (siblings in one folder). */
function renderPartNav(part: PartInfo): Html {
  const link = (index: number, label: string, rel?: string) =>
    html`<a class="nav" href="${encodeURIComponent(part.fileOfPart(index))}"${rel ? html` rel="${rel}"` : undefined}>${label}</a>`;
  const before = part.index > 1 ? html`${link(1, '« first')} ${link(part.index - 1, '‹ previous', 'prev')} ` : undefined;
  const after = part.index < part.count ? html` ${link(part.index + 1, 'next ›', 'next')} ${link(part.count, 'last »')}` : undefined;
  return html`<span class="parts">${before}part ${part.index} of ${part.count}${after}</span>`;
}

function renderChannelHead(summary: ChannelSummary, zone: Zone): Html {
  const count = `${summary.count} ${summary.count === 1 ? 'message' : 'messages'}`;
  let span: Html | undefined;
  if (summary.first !== null && summary.last !== null) {
    const first = formatLocal(Date.parse(summary.first), zone);
    const last = formatLocal(Date.parse(summary.last), zone);
    span = html`<span><time datetime="${summary.first}">${first.day} ${first.time}</time> → <time datetime="${summary.last}">${last.day} ${last.time}</time></span>`;
  }
  const part = summary.part && summary.part.count > 1 ? renderPartNav(summary.part) : undefined;
  return html`<section class="channel" data-provider="${summary.provider}" data-channel="${summary.channel}">
<header class="head"><div class="icon" aria-hidden="true">#</div><div><h1>${summary.provider} · ${summary.channel}</h1>
<p class="sub"><span>${count}</span>${span}<span>times in ${zoneLabel(zone)}</span>${part}</p></div></header>
`;
}

function renderAvatar(message: Message): Html {
  const file = message.sender.avatarFile;
  if (file) return html`<img class="avatar" src="${relativeUrl(file)}" alt="" width="40" height="40">`;
  const name = authorOf(message);
  const initial = Array.from(cleanText(name).trim())[0]?.toUpperCase() ?? '?';
  return html`<div class="avatar av${colourOf(message.sender.id)}" aria-hidden="true">${initial}</div>`;
}

function renderGroupHead(message: Message, local: { day: string; time: string }): Html {
  return html`<div class="group" data-sender="${message.sender.id}">
${renderAvatar(message)}<div class="who"><span class="name" dir="auto" title="${message.sender.id}">${cleanText(authorOf(message))}</span><time>${local.day} ${local.time}</time></div>
`;
}

function renderMarkers(message: Message, zone: Zone): Html {
  const type = message.type !== 'text' && message.type !== 'system' && message.type !== '' ? html`<span class="mark">${message.type}</span>` : undefined;
  let edited: Html | undefined;
  if (message.editedAt !== null) {
    const at = formatLocal(Date.parse(message.editedAt), zone);
    edited = html`<span class="mark" title="edited ${at.day} ${at.time}">edited</span>`;
  }
  const deleted = message.deleted ? html`<span class="mark del">deleted</span>` : undefined;
  return html`${type}${edited}${deleted}`;
}

/** A system message quotes like any other: the quote shown above it and linked (CSS puts it first). */
function renderSystem(message: Message, time: string, zone: Zone, replies: ReplyIndex, part: PartInfo | undefined): Html {
  const classes = message.deleted ? 'msg system deleted' : 'msg system';
  return html`<article class="${classes}" id="m-${message.id}" data-id="${message.id}"><time class="t" datetime="${message.timestamp}">${time}</time>${renderReply(message, replies, part)}<div class="text" dir="auto">${renderText(message.text)}</div>${renderMarkers(message, zone)}</article>
`;
}

function renderMessage(message: Message, time: string, zone: Zone, replies: ReplyIndex, part: PartInfo | undefined): Html {
  const classes = message.deleted ? 'msg deleted' : 'msg';
  const imageUrl = imageMessageUrl(message);
  // An image message's text is the picture's URL: once the picture itself is shown, the URL is noise.
  const shown = imageUrl !== undefined && message.attachments.some((a) => a.url === imageUrl && a.file);
  const markers = renderMarkers(message, zone);
  // Markers follow the text on its last line, as chat apps show "(edited)".
  const body =
    shown || message.text === ''
      ? markers.value === '' ? undefined : html`<div class="marks">${markers}</div>`
      : html`<div class="text" dir="auto">${renderText(message.text)}</div>${markers.value === '' ? undefined : html`<span class="marks">${markers}</span>`}`;
  return html`<article class="${classes}" id="m-${message.id}" data-id="${message.id}"><time class="t" datetime="${message.timestamp}">${time}</time>${renderReply(message, replies, part)}${body}${renderAttachments(message.attachments)}</article>
`;
}

function renderReply(message: Message, replies: ReplyIndex, part: PartInfo | undefined): Html | undefined {
  const id = message.replyTo;
  if (id === null) return undefined;
  const quoted = replies.get(id);
  if (!quoted) {
    return html`<div class="reply" data-reply-to="${id}"><span>↪ reply to message ${id}, not in this export</span></div>`;
  }
  const file = part ? part.fileOf(quoted.position) : undefined;
  const href = `${file && file !== part?.file ? encodeURIComponent(file) : ''}#m-${encodeURIComponent(id)}`;
  const text = quoted.text === '' ? '(no text)' : quoted.text;
  return html`<a class="reply" href="${href}" data-reply-to="${id}"><b>↪ <bdi>${quoted.author}</bdi></b><span dir="auto">${text}</span></a>`;
}

function renderAttachments(attachments: Attachment[]): Html | undefined {
  if (attachments.length === 0) return undefined;
  const items = attachments.map((attachment) => {
    // A file name shows as it is: `photo<RLO>gnp.exe` must not read as "photoexe.png".
    const name = stripBidi(cleanText(attachment.name ?? fileNameOf(attachment.url)));
    if (attachment.file) {
      const src = relativeUrl(attachment.file);
      if (isImage(attachment)) {
        return html`<a class="att image" href="${src}"><img src="${src}" alt="${name}" loading="lazy" decoding="async"></a>`;
      }
      return html`<a class="att file" href="${src}">📎 <span dir="auto">${name}</span></a>`;
    }
    if (isHttpUrl(attachment.url)) {
      return html`<a class="att file" href="${attachment.url}" rel="noopener noreferrer nofollow">📎 <span dir="auto">${name}</span></a>`;
    }
    return html`<span class="att file">📎 <span dir="auto">${name}</span></span>`;
  });
  return html`<div class="atts">${items}</div>`;
}

/** Message text as text: control characters gone, http(s) URLs linked to themselves. */
export function renderText(text: string): Html {
  const clean = cleanText(text);
  const parts: Array<Html | string> = [];
  let last = 0;
  for (const match of clean.matchAll(URL_IN_TEXT)) {
    let url = match[0];
    const trailing = TRAILING_PUNCTUATION.exec(url);
    if (trailing) url = url.slice(0, -trailing[0].length);
    const at = match.index ?? 0;
    if (!isHttpUrl(url)) continue;
    parts.push(clean.slice(last, at), html`<a href="${url}" rel="noopener noreferrer nofollow">${url}</a>`);
    last = at + url.length;
  }
  parts.push(clean.slice(last));
  return html`${parts}`;
}

const IMAGE_TYPES = new Set(['image', 'img', 'picture', 'photo', 'pic']);

/** The picture URL of an image message (relation IMAGE, dishawang image types): its text. */
export function imageMessageUrl(message: Pick<Message, 'type' | 'text'>): string | undefined {
  if (!IMAGE_TYPES.has(message.type)) return undefined;
  const text = message.text.trim();
  return isHttpUrl(text) && !/\s/.test(text) ? text : undefined;
}

function isImage(attachment: Attachment): boolean {
  if (attachment.type && /^image(\/|$)/i.test(attachment.type)) return true;
  return IMAGE_EXTENSIONS.test(attachment.file ?? '') || IMAGE_EXTENSIONS.test(attachment.name ?? '');
}

function fileNameOf(url: string): string {
  try {
    const last = new URL(url).pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last) : url;
  } catch {
    return url;
  }
}

/** A relative file path as a URL: each segment percent-encoded, so `#`, `?` or spaces in --media-dir stay in the path. */
export function relativeUrl(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment === '..' || segment === '.' ? segment : encodeURIComponent(segment)))
    .join('/');
}

function colourOf(id: string): number {
  let h = 0;
  for (let k = 0; k < id.length; k++) h = (h * 31 + id.charCodeAt(k)) >>> 0;
  return h % AVATAR_COLOURS;
}
