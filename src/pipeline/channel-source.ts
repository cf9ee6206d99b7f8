import type { Order, SpoolResult } from './order.js';

/**
 * A channel read back from storage rather than walked — an archive's rows or
 * a JSONL export through the spool — as `convert` hands it to dump's targets:
 * its messages in export order, as the writer reads a finished spool.
 */
export interface ChannelSource {
  key: { provider: string; api: string; channel: string };
  result: SpoolResult;
  dispose(): Promise<void>;
}

/** Which messages a reading keeps: a provider, channels (in the order the user gave them), a window in epoch ms. */
export interface SourceFilter {
  provider?: string | undefined;
  channels?: string[] | undefined;
  /** inclusive */
  since?: number | undefined;
  /** exclusive */
  until?: number | undefined;
}

/** Lines joined into chunks of about 64 KiB, as a finished spool hands them to the writer. */
export async function* batched(lines: AsyncIterable<string>): AsyncGenerator<string> {
  let chunk = '';
  for await (const line of lines) {
    chunk += `${line}\n`;
    if (chunk.length >= 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** --limit: the newest N, wherever the order puts them (dump's rule). */
export function limited(result: SpoolResult, order: Order, limit: number | undefined): SpoolResult {
  if (limit === undefined || result.count <= limit) return result;
  const skip = order === 'asc' ? result.count - limit : 0;
  const lines = async function* () {
    let index = 0;
    let taken = 0;
    for await (const line of result.lines()) {
      if (index++ < skip) continue;
      if (taken++ >= limit) return;
      yield line;
    }
  };
  return { count: limit, oldest: result.oldest, newest: result.newest, lines, chunks: () => batched(lines()) };
}
