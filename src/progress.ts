import type { Logger } from './log.js';
import { sanitizeForTerminal } from './text/sanitize.js';
import type { WalkBatch } from './walk/types.js';

export interface ChannelProgress {
  /** the walk's requests and retries, counted by the HTTP client */
  readonly stats: { requests: number; retries: number };
  update(batch: WalkBatch, kept: number): void;
  /** the walk is over: `written` messages go to the output */
  finish(written: number): void;
  fail(): void;
}

export interface Progress {
  /**
   * A channel starts walking. `totalIsExact`: the API's total is what this
   * run will export (no window, no limit, not incremental), so "of N" and an
   * ETA are true; otherwise only what is known is shown.
   */
  start(label: string, options?: { totalIsExact?: boolean }): ChannelProgress;
  /** The channel's messages are in their output: `bytes` written to `output` ("stdout" or a path). */
  delivered(label: string, output: DeliveredOutput): void;
  /** Tears the bars down (the terminal as it was), then prints the summary: one line per channel, a total. */
  stop(): void;
}

/** Where a channel's messages went: the path, its size when known, with --partition the number of parts. */
export interface DeliveredOutput {
  path: string;
  bytes: number | undefined;
  parts?: number | undefined;
  /** an archive's upsert: new rows, changed rows, messages read (the summary says all three, not one count) */
  counts?: { added: number; changed: number; read: number } | undefined;
  /** --incremental into an existing file: the messages were appended (bytes is what was appended) */
  appended?: boolean | undefined;
}

/** What one channel's bar or stats line shows. */
export interface ChannelState {
  label: string;
  messages: number;
  pages: number;
  /** the API's total, when it is what this run will export */
  total: number | undefined;
  /** oldest message time reached, epoch ms */
  oldest: number | undefined;
  elapsedMs: number;
}

interface Channel extends ChannelState {
  started: number;
  stats: { requests: number; retries: number };
  state: 'walking' | 'walked' | 'failed';
  output?: DeliveredOutput;
}

/**
 * What a person sees while an export runs. On a terminal: one line per
 * channel in flight (cli-progress does the cursor work), each fitted to the
 * width so the counts are never cut; a bar and an ETA only where the API's
 * total makes them true. Without a terminal (cron, pipes): a stats line every
 * `statsIntervalMs`, as rclone's --stats. Either way, when the run ends and
 * the bars are gone, one summary line per channel (output and bytes) and a
 * total.
 */
export async function createProgress(options: {
  enabled: boolean;
  stream: NodeJS.WritableStream;
  logger: Logger;
  /** periodic stats lines when no bars are drawn; 0 = none */
  statsIntervalMs?: number;
  /** channels in the run, started or still queued (for "2 of 10 channels done") */
  totalChannels?: number;
}): Promise<Progress> {
  // Only a terminal gets bars: cron and pipes do not pay for loading them.
  const cliProgress = options.enabled ? (await import('cli-progress')).default : undefined;
  const { logger } = options;
  const runStarted = Date.now();
  const channels: Channel[] = [];
  const multibar = cliProgress
    ? new cliProgress.MultiBar({
        stream: options.stream as NodeJS.WritableStream & { isTTY: boolean },
        clearOnComplete: true,
        hideCursor: true,
        // Wrap stays on: every line is fitted to the width below, and a summary printed while
        // wrap was off would be cut at the right edge.
        linewrap: true,
        fps: 5,
        // after a log line the bars are drawn afresh below it, changed or not
        forceRedraw: true,
        gracefulExit: false,
        format: (_options, params, payload: { channel: Channel }) =>
          formatBarLine({ ...payload.channel, elapsedMs: Date.now() - payload.channel.started }, params.maxWidth),
      })
    : undefined;
  if (multibar) {
    // Log lines must not be drawn over by the bars: the logger writes to the
    // stream itself, so the bars are wiped first (the line takes their place)
    // and redrawn below it at once. cli-progress's own log() cannot be used:
    // it only buffers until the next frame, and stop() drops the buffer.
    const hooks = (logger as Logger & { hooks?: { beforeWrite?: () => void; afterWrite?: () => void } }).hooks;
    const terminal = (multibar as unknown as { terminal?: { cursorRelativeReset(): void; clearBottom(): void } }).terminal;
    if (hooks && terminal) {
      hooks.beforeWrite = () => {
        if (!multibar.isActive) return;
        terminal.cursorRelativeReset();
        terminal.clearBottom();
      };
      hooks.afterWrite = () => {
        if (multibar.isActive) multibar.update();
      };
    }
  }

  // A second Ctrl-C ends the process at once (src/main.ts): the cursor must not stay hidden.
  const restoreTerminal = () => {
    if (multibar?.isActive) multibar.stop();
  };
  if (multibar) process.once('exit', restoreTerminal);

  const interval = options.statsIntervalMs ?? 0;
  const timer =
    !multibar && interval > 0 && logger.verbosity !== 'quiet'
      ? setInterval(() => logger.info(formatStatsLine(channels, Date.now() - runStarted, options.totalChannels)), interval)
      : undefined;
  timer?.unref();

  let stopped = false;
  return {
    start(label, startOptions = {}) {
      const channel: Channel = {
        label: sanitizeForTerminal(label),
        messages: 0,
        pages: 0,
        total: undefined,
        oldest: undefined,
        elapsedMs: 0,
        started: Date.now(),
        stats: { requests: 0, retries: 0 },
        state: 'walking',
      };
      channels.push(channel);
      const bar = multibar?.create(1, 0, { channel });
      return {
        stats: channel.stats,
        update(batch, kept) {
          channel.pages++;
          channel.messages = kept;
          if (startOptions.totalIsExact && batch.total !== undefined) channel.total = Math.max(batch.total, kept);
          if (batch.oldest !== undefined) channel.oldest = Math.min(channel.oldest ?? Infinity, batch.oldest);
          bar?.update(kept, { channel });
        },
        finish(written) {
          channel.messages = written;
          channel.state = 'walked';
          channel.elapsedMs = Date.now() - channel.started;
          // Only channels in flight keep a bar.
          if (bar) multibar?.remove(bar);
        },
        fail() {
          channel.state = 'failed';
          if (bar) multibar?.remove(bar);
        },
      };
    },
    delivered(label, output) {
      const channel = channels.find((c) => c.label === sanitizeForTerminal(label) && c.output === undefined);
      if (channel) channel.output = output;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      process.off('exit', restoreTerminal);
      multibar?.stop();
      for (const line of formatSummary(channels, Date.now() - runStarted)) logger.info(line);
    },
  };
}

// ---------------------------------------------------------------------------
// Pure formatting, unit-tested apart from the terminal.

const BAR_FULL = '\u2588';
const BAR_EMPTY = '\u2591';

/**
 * One channel's line, at most `width - 3` columns: the last column would make
 * some terminals wrap, and the "^C" a terminal echoes after the line on
 * Ctrl-C must not wrap either (the display then loses track of its lines). What gives way first: the bar down to 6 columns,
 * then the whole bar (before the label is cut or a figure dropped), the
 * label (cut in the middle, so the end of a long channel id stays) down to
 * 12, then the ETA or date, the rate, the pages; the message count never.
 */
export function formatBarLine(state: ChannelState, width: number): string {
  const max = Math.max(20, Math.floor(width) - 3);
  const label = state.label;
  const parts = statsParts(state);
  const all = parts.length;
  for (;;) {
    const stats = parts.join(' · ');
    const labelMin = Math.min(label.length, 12);
    // The bar repeats what "N of M" says: it gives way before the label is cut or a figure dropped.
    if (state.total !== undefined && state.total > 0 && parts.length === all) {
      const avail = max - stats.length - 4;
      // the bar takes 6 to 24 columns; the label keeps up to 24 before the bar shrinks
      const barWidth = Math.max(6, Math.min(24, avail - Math.min(label.length, 24)));
      if (avail - barWidth >= label.length) {
        const filled = Math.round((Math.min(state.messages, state.total) / state.total) * barWidth);
        const bar = BAR_FULL.repeat(filled) + BAR_EMPTY.repeat(barWidth - filled);
        return `${fitMiddle(label, avail - barWidth)} |${bar}| ${stats}`;
      }
    }
    const labelRoom = max - stats.length - 3;
    if (labelRoom >= labelMin || parts.length === 1) {
      if (labelRoom < 1) return stats.slice(0, max);
      return `${fitMiddle(label, labelRoom)} · ${stats}`;
    }
    parts.pop();
  }
}

function statsParts(state: ChannelState): string[] {
  const seconds = state.elapsedMs / 1000;
  const rate = seconds >= 1 ? Math.round(state.messages / seconds) : undefined;
  const parts = [
    state.total !== undefined ? `${state.messages} of ${plural(state.total, 'message')}` : plural(state.messages, 'message'),
    plural(state.pages, 'page'),
  ];
  if (rate !== undefined) parts.push(`${rate}/s`);
  if (state.total !== undefined) {
    if (rate !== undefined && rate > 0 && state.total > state.messages) {
      parts.push(`ETA ${formatDuration(((state.total - state.messages) / rate) * 1000)}`);
    }
  } else if (state.oldest !== undefined && Number.isFinite(state.oldest)) {
    // Without a total, the time reached is the one true measure of how far a newest-first walk has got.
    parts.push(`back to ${new Date(state.oldest).toISOString().slice(0, 10)}`);
  }
  return parts;
}

/** `text` in at most `room` columns, cut in the middle with "…". */
export function fitMiddle(text: string, room: number): string {
  if (text.length <= room) return text;
  if (room <= 1) return '…'.slice(0, Math.max(0, room));
  // the end is the channel id: keep up to 8 of it, all of a short one
  const lastWord = text.length - text.lastIndexOf(' ') - 1;
  const tail = Math.min(Math.floor((room - 1) / 2), 8, Math.max(lastWord, Math.floor((room - 1) / 3)));
  return `${text.slice(0, room - 1 - tail)}…${tail > 0 ? text.slice(-tail) : ''}`;
}

/** Without a terminal, every interval: the run so far and each channel in flight. */
export function formatStatsLine(
  channels: Array<ChannelState & { stats?: { requests: number; retries: number }; state?: string }>,
  elapsedMs: number,
  totalChannels = channels.length,
): string {
  const messages = channels.reduce((sum, c) => sum + c.messages, 0);
  const pages = channels.reduce((sum, c) => sum + c.pages, 0);
  const requests = channels.reduce((sum, c) => sum + (c.stats?.requests ?? 0), 0);
  const retries = channels.reduce((sum, c) => sum + (c.stats?.retries ?? 0), 0);
  const done = channels.filter((c) => c.state !== undefined && c.state !== 'walking').length;
  const seconds = elapsedMs / 1000;
  const head = [
    `stats after ${formatDuration(elapsedMs)}`,
    `${done} of ${plural(Math.max(totalChannels, channels.length), 'channel')} done`,
    plural(messages, 'message'),
    plural(pages, 'page'),
    plural(requests, 'request'),
    plural(retries, 'retry', 'retries'),
    `${seconds >= 1 ? Math.round(messages / seconds) : 0} messages/s`,
  ].join(', ');
  const walking = channels.filter((c) => c.state === undefined || c.state === 'walking');
  const shown = walking.slice(0, 3).map((c) => {
    const extra = c.total !== undefined ? ` of ${c.total}` : c.oldest !== undefined ? `, back to ${new Date(c.oldest).toISOString().slice(0, 10)}` : '';
    const count = c.total !== undefined ? `${c.messages}${extra} messages` : `${plural(c.messages, 'message')}${extra}`;
    return `${c.label}: ${count}`;
  });
  if (walking.length > 3) shown.push(`${walking.length - 3} more`);
  return shown.length > 0 ? `${head}; in flight: ${shown.join('; ')}` : head;
}

/** The lines printed once the bars are gone: one per delivered channel, then the total when there are several. */
export function formatSummary(
  channels: Array<ChannelState & { stats: { requests: number; retries: number }; output?: DeliveredOutput }>,
  elapsedMs: number,
): string[] {
  const delivered = channels.filter((c) => c.output !== undefined);
  const lines = delivered.map(
    (c) =>
      `${c.label}: ${whatWasWritten(c.messages, c.output!)}, ` +
      `${plural(c.pages, 'page')}, ${plural(c.stats.requests, 'request')}, ${plural(c.stats.retries, 'retry', 'retries')} in ${formatDuration(c.elapsedMs)}`,
  );
  if (delivered.length > 1) {
    const sum = (pick: (c: (typeof delivered)[number]) => number) => delivered.reduce((total, c) => total + pick(c), 0);
    lines.push(
      `total: ${plural(delivered.length, 'channel')}, ` +
        (delivered.every((c) => c.output!.counts)
          ? `${sum((c) => c.output!.counts!.added)} new, ${sum((c) => c.output!.counts!.changed)} changed, ${sum((c) => c.output!.counts!.read)} read, `
          : `${plural(sum((c) => c.messages), 'message')}, `) +
        `${delivered.every((c) => c.output!.bytes !== undefined) ? `${formatBytes(sum((c) => c.output!.bytes ?? 0))}, ` : ''}` +
        `${plural(sum((c) => c.pages), 'page')}, ${plural(sum((c) => c.stats.requests), 'request')}, ` +
        `${plural(sum((c) => c.stats.retries), 'retry', 'retries')} in ${formatDuration(elapsedMs)}`,
    );
  }
  return lines;
}

/**
 * "6 messages → a.jsonl (1.2 KiB)"; an archive says what its upsert did ("5 new, 1 changed, 6 read →
 * a.sqlite": the 6 read are not 6 added); an append says what was new, and a run with nothing new says so
 * instead of "0 messages (0 B)".
 */
function whatWasWritten(messages: number, output: DeliveredOutput): string {
  if (output.counts) {
    const { added, changed, read } = output.counts;
    return `${added} new, ${changed} changed, ${read} read → ${output.path}`;
  }
  if (output.appended) return messages === 0 ? `nothing new → ${output.path}` : `${plural(messages, 'new message')} appended → ${output.path}${outputSize(output)}`;
  return `${plural(messages, 'message')} → ${output.path}${outputSize(output)}`;
}

/** " (12.3 KiB)", " (3 parts, 40.1 KiB)", " (3 parts)" for parts other channels share, or nothing. */
function outputSize(output: DeliveredOutput): string {
  const size = output.bytes === undefined ? [] : [formatBytes(output.bytes)];
  const parts = output.parts === undefined ? [] : [plural(output.parts, 'part')];
  const both = [...parts, ...size];
  return both.length === 0 ? '' : ` (${both.join(', ')})`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "0.4 s", "6.5 s", "1 min 05 s", "2 h 03 min". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** "812 B", "12.3 KiB", "4.0 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `--stats DUR`: "30s", "1m", "500ms", "0" (off); a bare number is seconds. */
export function parseStatsInterval(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}
