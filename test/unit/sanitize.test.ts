import { describe, expect, it } from 'vitest';

import { excerpt, redactSecrets, redactUrl, registerSecret, sanitizeForTerminal, stripControl } from '../../src/text/sanitize.js';

const ESC = '\u001b';
const BEL = '\u0007';

describe('stripControl', () => {
  it('removes CSI sequences (colours, cursor moves, clear screen)', () => {
    expect(stripControl(`${ESC}[31mboom${ESC}[0m`)).toBe('boom');
    expect(stripControl(`a${ESC}[2J${ESC}[1;1Hb`)).toBe('ab');
    expect(stripControl(`x${ESC}[?25ly`)).toBe('xy');
  });

  it('removes OSC sequences ended by BEL or ST (window title, hyperlinks)', () => {
    expect(stripControl(`${ESC}]0;pwned${BEL}title`)).toBe('title');
    expect(stripControl(`${ESC}]8;;http://127.0.0.1/evil${ESC}\\link${ESC}]8;;${ESC}\\`)).toBe('link');
  });

  it('removes lone ESC sequences and the remaining C0 and C1 controls, but keeps tab and newline', () => {
    expect(stripControl(`a${ESC}Mb`)).toBe('ab');
    // ESC c (full reset): whatever is left of it, the ESC that makes it a command is gone
    expect(stripControl(`a${ESC}cb`)).not.toContain(ESC);
    expect(stripControl(`a${BEL}b\u0000c\u0008d\u007fe\u009bf\u0085g`)).toBe('abcdefg');
    expect(stripControl('a\tb\nc')).toBe('a\tb\nc');
    expect(stripControl('a\rb')).toBe('ab');
  });

  it('leaves ordinary text, CJK and emoji alone', () => {
    const text = '请先登录 — héllo 👋🏽 [31m';
    expect(stripControl(text)).toBe(text);
  });

  it('an unterminated escape leaves no raw ESC behind', () => {
    expect(stripControl(`boom${ESC}`)).not.toContain(ESC);
    expect(stripControl(`boom${ESC}]0;never ended`)).not.toContain(ESC);
    expect(stripControl(`boom${ESC}[31`)).not.toContain(ESC);
  });
});

describe('secrets', () => {
  it('redacts every registered secret wherever it appears', () => {
    registerSecret('sk-unit-test-secret-1');
    expect(redactSecrets('token sk-unit-test-secret-1 and again sk-unit-test-secret-1.')).toBe('token •••• and again ••••.');
  });

  it('ignores values too short to be credentials', () => {
    registerSecret('ab');
    expect(redactSecrets('about abba')).toBe('about abba');
    registerSecret(undefined);
    registerSecret('');
    expect(redactSecrets('nothing')).toBe('nothing');
  });

  it('sanitizeForTerminal: one line, no escapes, no secrets', () => {
    registerSecret('hunter2hunter2');
    expect(sanitizeForTerminal(`line1\nline2 ${ESC}[31mhunter2hunter2${ESC}[0m${BEL}`)).toBe('line1 line2 ••••');
  });

  it('a secret split by an escape sequence is still redacted (escapes go first)', () => {
    registerSecret('splitsecret99');
    expect(sanitizeForTerminal(`splits${ESC}[0mecret99`)).toBe('••••');
  });
});

describe('secrets at any depth of escaping', () => {
  const secret = 'Dp7"q\\n/x+ü-token-9';
  registerSecret(secret);
  const json = (text: string): string => JSON.stringify(text).slice(1, -1);

  it('redacts the secret JSON-escaped 1 to 6 times, percent-encoded over it, and the other way round', () => {
    let form = secret;
    for (let depth = 1; depth <= 6; depth++) {
      form = json(form);
      expect(redactSecrets(`a ${form} b`), `depth ${depth}`).toBe('a •••• b');
      expect(redactSecrets(`a ${encodeURIComponent(form)} b`), `percent of depth ${depth}`).toBe('a •••• b');
      expect(redactSecrets(`a ${json(encodeURIComponent(form))} b`), `JSON of percent of depth ${depth}`).toBe('a •••• b');
    }
    expect(redactSecrets(encodeURIComponent(encodeURIComponent(encodeURIComponent(secret))))).toBe('••••');
  });

  it('redacts it base64-encoded inside a longer blob (Basic user:password) at every alignment', () => {
    for (const user of ['', 'u', 'us', 'use', 'backup']) {
      const blob = Buffer.from(`${user}:${secret}`).toString('base64');
      const shown = redactSecrets(`Basic ${blob}`);
      expect(shown, user).toContain('••••');
      // what is left is the user's part and at most a character on each side
      expect(shown.replace('Basic ', '').replace('••••', '').length, user).toBeLessThanOrEqual(Math.ceil(((user.length + 1) * 8) / 6) + 4);
    }
  });

  it('leaves ordinary text and near misses alone', () => {
    const text = 'Dp7 token-9, \\\\ "quoted" %22 \\u0022 ü';
    expect(redactSecrets(text)).toBe(text);
    expect(redactSecrets(secret.slice(0, -1))).toBe(secret.slice(0, -1));
  });

  it('scans hostile runs of backslashes, escapes and partial secrets in linear time (bounded by the test timeout)', () => {
    registerSecret('ab\\\\\\\\cd-12345');
    const runs = ('ab' + '\\'.repeat(200) + 'x').repeat(5000) + ('Dp7' + '%255c'.repeat(100)).repeat(3000) + '\\'.repeat(300_000);
    expect(redactSecrets(runs)).toBe(runs);
    expect(redactSecrets(`x ab${'\\'.repeat(40)}cd-12345 y`)).toBe('x •••• y');
  });
});

describe('excerpt', () => {
  it('is short, flat and sanitized', () => {
    const long = `${'x'.repeat(300)}`;
    expect(excerpt(long)).toBe(`${'x'.repeat(120)}…`);
    expect(excerpt(long, 10)).toBe(`${'x'.repeat(10)}…`);
    expect(excerpt(`  a\n\n  b\t${ESC}[1mc  `)).toBe('a b c');
  });
});

describe('redactUrl', () => {
  it('drops userinfo and masks credential-looking query values', () => {
    // only text here: nothing connects to it (the scheme is split so no check mistakes it for a host we call)
    const shown = redactUrl('https:' + '//user:pa55word@example.com/list?channelUuid=C1&token=abc123&api_key=k&sig=s&limit=5');
    expect(shown).not.toContain('pa55word');
    expect(shown).not.toContain('user:');
    expect(shown).not.toContain('abc123');
    expect(shown).toContain('channelUuid=C1');
    expect(shown).toContain('limit=5');
    expect(shown).toMatch(/token=••••/);
    expect(shown).toMatch(/api_key=••••/);
  });

  it('keeps the URL readable (brackets of discuz query keys are not percent-encoded)', () => {
    expect(redactUrl('https://example.com/api/dialog/message?filter[dialog_id]=12&page[number]=1')).toBe(
      'https://example.com/api/dialog/message?filter[dialog_id]=12&page[number]=1',
    );
  });

  it('redacts registered secrets even in a path or an unparseable string', () => {
    registerSecret('pathsecret42');
    expect(redactUrl('https://h.example/api/v1/im/pathsecret42/message/1')).not.toContain('pathsecret42');
    expect(redactUrl('not a url pathsecret42')).toBe('not a url ••••');
  });
});
