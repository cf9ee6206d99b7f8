import type { Logger } from './log.js';
import type { WalkBatch } from './walk/types.js';

export interface ChannelProgress {
  /** the walk's requests and retries, counted by the HTTP client */
  readonly stats: { requests: number; retries: number };
  update(batch: WalkBatch, kept: number): void;
  finish(written: number): void;
  fail(): void;
}

export interface Progress {
  start(label: string): ChannelProgress;
  stop(): void;
}

/**
 * What a person sees while a long export runs: on a terminal, one bar per
 * channel in flight (cli-progress), none otherwise (cron, pipes); either
 * way, one summary line per channel as it finishes.
 */
export async function createProgress(options: { enabled: boolean; stream: NodeJS.WritableStream; logger: Logger }): Promise<Progress> {
  // Only a terminal gets bars: cron and pipes do not pay for loading them.
  const cliProgress = options.enabled ? (await import('cli-progress')).default : undefined;
  const { logger } = options;
  const multibar = cliProgress
    ? new cliProgress.MultiBar(
        {
          stream: options.stream as NodeJS.WritableStream & { isTTY: boolean },
          clearOnComplete: true,
          hideCursor: true,
          format: '{label} |{bar}| {pages} pages · {messages} messages · {rate}/s · ETA {eta_formatted}',
          etaBuffer: 20,
          fps: 5,
          // after a log line the bars are drawn afresh below it, changed or not
          forceRedraw: true,
        },
        cliProgress.Presets.shades_classic,
      )
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
  return {
    start(label) {
      const started = Date.now();
      let pages = 0;
      let messages = 0;
      const stats = { requests: 0, retries: 0 };
      const bar = multibar?.create(1, 0, { label, pages: 0, messages: 0, rate: 0 });
      const payload = () => ({
        label,
        pages,
        messages,
        rate: Math.round(messages / Math.max(0.001, (Date.now() - started) / 1000)),
      });
      return {
        stats,
        update(batch, kept) {
          pages++;
          messages = kept;
          if (!bar) return;
          // The API's total (dishawang `total`, discuz `meta.total`) makes the bar a real fraction.
          const total = batch.total ?? Math.max(messages, 1) * 2;
          bar.setTotal(Math.max(total, messages, 1));
          bar.update(messages, payload());
        },
        finish(written) {
          messages = written;
          // Only channels in flight keep a bar: a finished one gives its line to the summary,
          // which stays on the screen once the bars are gone.
          if (bar) multibar?.remove(bar);
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          const retries = stats.retries === 1 ? '1 retry' : `${stats.retries} retries`;
          logger.info(`${label}: ${written} messages, ${pages} pages, ${stats.requests} requests, ${retries} in ${seconds} s`);
        },
        fail() {
          if (bar) multibar?.remove(bar);
        },
      };
    },
    stop() {
      multibar?.stop();
    },
  };
}
