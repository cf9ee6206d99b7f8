/**
 * A tiny tagged template for building HTML where every interpolated value is
 * text unless it is itself the result of `html`…`` (or `trustedHtml`, for
 * constants of our own). Escaping is html-escaper's, which covers & < > " '
 * so a value is safe both between tags and inside a quoted attribute.
 *
 *     html`<a href="${url}">${name}</a>`   // url and name are escaped
 */
import { escape } from 'html-escaper';

const SAFE = Symbol('html');

export interface Html {
  readonly [SAFE]: true;
  readonly value: string;
}

type Interpolated = Html | string | number | null | undefined | false | readonly Interpolated[];

function markSafe(value: string): Html {
  return { [SAFE]: true, value };
}

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map((item: Interpolated) => render(item)).join('');
  if (typeof value === 'object') return (value as Html).value;
  return escape(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let out = strings[0] ?? '';
  for (let k = 0; k < values.length; k++) out += render(values[k]) + (strings[k + 1] ?? '');
  return markSafe(out);
}

/** Markup we wrote ourselves (a stylesheet, a constant): never text from a message. */
export function trustedHtml(value: string): Html {
  return markSafe(value);
}

export function isHtml(value: unknown): value is Html {
  return typeof value === 'object' && value !== null && (value as Html)[SAFE] === true;
}

export { escape as escapeHtml };
