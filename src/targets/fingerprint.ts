import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes hashed at each end of an output file. */
const SPAN = 64 * 1024;

export interface Fingerprint {
  head: string;
  tail: string;
}

/**
 * sha256 of a file's first and last 64 KiB (as of `size` bytes): with the
 * size, the proof an --incremental run asks for that the file is the one it
 * last wrote. Cheap whatever the file's size; an edit that keeps the size and
 * touches neither end goes unseen (README).
 */
export async function fingerprintFile(path: string, size: number): Promise<Fingerprint> {
  const handle = await open(path, 'r');
  try {
    const read = async (position: number, length: number): Promise<string> => {
      const buffer = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return createHash('sha256').update(buffer.subarray(0, got)).digest('hex');
    };
    const length = Math.min(SPAN, size);
    return { head: await read(0, length), tail: await read(size - length, length) };
  } finally {
    await handle.close();
  }
}
