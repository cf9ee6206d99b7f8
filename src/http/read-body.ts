import { PassThrough, Transform, pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { RemoteError } from '../errors.js';

/**
 * Reading a body: the size cap (on the wire and decoded), Content-Encoding
 * decoding and the BOM. The client (client.ts) composes these; nothing here
 * knows of retries or URLs.
 */

/** Drops a body we will not read (an error status, a redirect, over the cap) without an unhandled 'error'. */
export function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

/**
 * Hands the body to `consume` decoded per Content-Encoding (gzip, deflate,
 * br, or a list of them), with the size cap applied to the bytes as they
 * arrive AND as they decode: a small compressed bomb hits the cap instead of
 * filling memory or the disk.
 */
export async function readBody<T>(
  body: Readable,
  encodingHeader: string | string[] | undefined,
  maxBytes: number,
  tooLargeError: () => Error,
  consume: (body: AsyncIterable<Buffer>) => Promise<T>,
): Promise<T> {
  const header = Array.isArray(encodingHeader) ? encodingHeader.join(',') : (encodingHeader ?? '');
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return readIdentity(body, maxBytes, tooLargeError, consume);
  // Decoded in the reverse of the order the server applied them.
  let stages: NodeJS.ReadWriteStream[];
  try {
    stages = codings.reverse().map(decoderFor);
  } catch (error) {
    discard(body);
    throw error;
  }
  let wire = 0;
  const onWire = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      wire += chunk.length;
      if (wire > maxBytes) return callback(tooLargeError());
      callback(null, chunk);
    },
  });
  // A failure anywhere destroys every stage, and the last one with that error: the loop below sees it.
  const decoded = pipeline([body, onWire, ...stages, new PassThrough()], () => {}) as unknown as Readable;
  try {
    return await consume(capped(decoded, maxBytes, tooLargeError));
  } finally {
    // consume stopped early (its own failure): the connection is not read to the end
    if (!decoded.readableEnded) decoded.destroy();
  }
}

/**
 * An unencoded body, read straight from undici's stream. Not through the
 * decoding pipeline: its stages hold each chunk long enough for V8 to promote
 * it, and a promoted Buffer's memory comes back only at a full GC — a page
 * walk's off-heap memory then grew by most of every body it read (measured:
 * 5 → 25–45 MiB of arrayBuffers, +10–30 MiB peak RSS, relation 300k).
 */
async function readIdentity<T>(body: Readable, maxBytes: number, tooLargeError: () => Error, consume: (body: AsyncIterable<Buffer>) => Promise<T>): Promise<T> {
  try {
    return await consume(capped(body, maxBytes, tooLargeError));
  } finally {
    // consume stopped early (its own failure, the cap): the connection is not read to the end
    if (!body.readableEnded) discard(body);
  }
}

/** The chunks of a body, failing as soon as they come to more than `maxBytes` (decoded, when it was encoded). */
async function* capped(chunks: AsyncIterable<unknown>, maxBytes: number, tooLargeError: () => Error): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of chunks) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLargeError();
    yield chunk as Buffer;
  }
}

/** A body's text: UTF-8, without the BOM some Windows and PHP stacks put before the JSON. */
export function bodyText(bytes: Buffer, size: number): string {
  const text = bytes.toString('utf8', 0, size);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function decoderFor(coding: string): NodeJS.ReadWriteStream {
  // Trailing garbage and a body cut short are reported, not silently accepted.
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'br':
      return createBrotliDecompress();
    case 'deflate':
      return createDeflateDecoder();
    default:
      throw new RemoteError(`the server sent a body encoded as ${JSON.stringify(coding.slice(0, 40))}, which chat-export cannot decode`, {
        hint: 'only gzip, deflate and br are supported',
      });
  }
}

/**
 * "deflate" is meant to be zlib-wrapped (RFC 9110), yet some servers send raw
 * deflate: the first byte tells them apart (a zlib header's low nibble is 8), as
 * browsers and curl do.
 */
function createDeflateDecoder(): NodeJS.ReadWriteStream {
  let inner: NodeJS.ReadWriteStream | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!inner) {
        inner = (chunk[0]! & 0x0f) === 0x08 ? createInflate() : createInflateRaw();
        inner.on('data', (data: Buffer) => this.push(data));
        inner.on('error', (error: Error) => this.destroy(error));
      }
      if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    flush(callback) {
      if (!inner) return callback();
      inner.once('end', () => callback());
      inner.end();
    },
  });
}
