import { describe, expect, it } from 'vitest';
import { formatCommanderError } from '../../src/cli.js';
import { RemoteError } from '../../src/errors.js';
import { shortReason } from '../../src/http/client.js';
import { formatErrorLines } from '../../src/log.js';
import { parseTimeSpec } from '../../src/pipeline/window.js';
import { editDistance, suggestName } from '../../src/text/suggest.js';

describe('error lines', () => {
  it('one line: prefix, message, " — ", hint', () => {
    expect(formatErrorLines('no channel to export', 'give --channel ID')).toEqual(['chat-export: no channel to export — give --channel ID']);
    expect(formatErrorLines('plain')).toEqual(['chat-export: plain']);
  });

  it('a heading with several causes gives one self-contained line per cause, the hint on the last', () => {
    expect(formatErrorLines('invalid config /c.json:\nprofiles.a.rate: must be > 0\nprofiles.b: unrecognized key', 'edit it')).toEqual([
      'chat-export: invalid config /c.json: profiles.a.rate: must be > 0',
      'chat-export: invalid config /c.json: profiles.b: unrecognized key — edit it',
    ]);
  });

  it("commander's messages take our prefix and keep its suggestion on the line", () => {
    expect(formatCommanderError("error: unknown option '--tokn'\n(Did you mean --token?)\n")).toBe(
      "chat-export: unknown option '--tokn'; did you mean --token? — see --help for usage",
    );
    expect(formatCommanderError("error: missing required argument 'name'\n")).toBe(
      "chat-export: missing required argument 'name' — see --help for usage",
    );
  });
});

describe('retry lines', () => {
  it('shorten the URL, never the cause', () => {
    const url = 'http://127.0.0.1:9/api/v1/message/list?channelUuid=4f326124812c41448bc587bf6b2eaf42&maxCreateAt=9007199254740991&limit=50';
    const error = new RemoteError(`relation channel 4f326124812c41448bc587bf6b2eaf42: network error on ${url}: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9`);
    expect(shortReason(error, url)).toBe('network error on 127.0.0.1:9/api/v1/message/list?…: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9');
  });
});

describe('did you mean', () => {
  it('suggests the close name, and nothing for a far one', () => {
    expect(suggestName('relaton', ['relation', 'discuz', 'dishawang'])).toBe('relation');
    expect(suggestName('dicsuz', ['relation', 'discuz', 'dishawang'])).toBe('discuz');
    expect(suggestName('slack', ['relation', 'discuz', 'dishawang'])).toBeUndefined();
    expect(suggestName('ab', ['xy'])).toBeUndefined();
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('--since / --until digits', () => {
  it('up to 11 digits are epoch seconds, 12 and more milliseconds; 0 is the epoch', () => {
    expect(parseTimeSpec('1704070800', '--since')).toBe(Date.UTC(2024, 0, 1, 1));
    expect(parseTimeSpec('1704070800000', '--since')).toBe(Date.UTC(2024, 0, 1, 1));
    expect(parseTimeSpec('0', '--since')).toBe(0);
    expect(() => parseTimeSpec('-5', '--since')).toThrow(/cannot read/);
  });
});
