/**
 * Field maps: a stream's records turned into the shape it delivers. The
 * message map (the definition's `fields`) makes normalized messages; a
 * record map (`compileRecordMap`) makes any flat shape from a spec of typed
 * fields — a channel (id, name, kind, parent, archived, readable), a person
 * (id, name, avatar). Expressions compile once; a record allocates only its
 * result.
 */
import { createMessage, ImpossibleValueError, type Attachment } from '../message.js';
import { parseZone, type Zone } from '../text/zone.js';
import type { Definition } from './definition.js';
import type { Expr, ExprScope } from './expression.js';
import {
  EMPTY_ATTACHMENTS,
  FieldIssue,
  flag,
  FORMAT_WORDS,
  idText,
  optionalText,
  plainText,
  representable,
  shape,
  toAttachments,
  toTime,
  type TimeFormat,
} from './field-values.js';
import type { ChannelTarget, Entry, ProviderPage, ProviderSettings } from './types.js';

export type MessageFields = Definition['fields'];

/** Zones by name, parsed once; `settings.timezone` wins over the definition's. */
export function zoneReader(defaultZone: string | undefined): (settings: Pick<ProviderSettings, 'timezone'>) => Zone {
  const zones = new Map<string, Zone>();
  return (settings) => {
    const tz = settings.timezone ?? defaultZone ?? 'UTC';
    let zone = zones.get(tz);
    if (!zone) zones.set(tz, (zone = parseZone(tz)));
    return zone;
  };
}

export interface MessageMap {
  normalize(raw: unknown, target: ChannelTarget, settings: ProviderSettings, page: ProviderPage): Entry;
  /** A record's time, or undefined (a filtered-out event still moves a time cursor). */
  timeOf(raw: unknown, scope: ExprScope, settings: Pick<ProviderSettings, 'timezone'>): number | undefined;
}

/** The definition's `fields` → normalized messages of provider `name`. */
export function compileMessageMap(name: string, f: MessageFields, compile: (text: string) => Expr, defaultZone: string | undefined): MessageMap {
  const opt = (text: string | undefined) => (text === undefined ? undefined : compile(text));
  const idOf = compile(f.id);
  const timeOf = compile(f.time.path);
  const senderId = opt(f.sender?.id);
  const senderName = opt(f.sender?.name);
  const senderAvatar = opt(f.sender?.avatar);
  const textOf = opt(f.text);
  const replyOf = opt(f.replyTo);
  const updatedOf = opt(f.updated?.path);
  const deletedOf = opt(f.deleted);
  const attachmentsOf = opt(f.attachments);
  const typeOf = messageType(f.type, compile);
  const zoneOf = zoneReader(defaultZone);

  const readTime = (value: unknown, settings: ProviderSettings, id: string): number => {
    const time = toTime(value, f.time.format, () => zoneOf(settings));
    if (time === undefined) throw new FieldIssue(f.time.path, `expected ${FORMAT_WORDS[f.time.format]}, got ${shape(value)}`);
    // The right form, but no date can hold it: this one message is counted missing, the page is good.
    if (!representable(time)) throw new ImpossibleValueError(id, `timestamp out of range (${shape(value)})`);
    return time;
  };
  const editTime = (raw: unknown, scope: ExprScope | undefined, timeValue: unknown, time: number, settings: ProviderSettings): number | null => {
    if (!updatedOf) return null;
    const updated = updatedOf(raw, scope);
    if (updated === null || updated === '') return null;
    const edited = updated === timeValue ? time : (toTime(updated, f.updated!.format, () => zoneOf(settings)) ?? null);
    // an edit time nothing can hold is unknown, not a reason to lose the message
    return edited !== null && representable(edited) ? edited : null;
  };

  const normalize = (raw: unknown, target: ChannelTarget, settings: ProviderSettings, page: ProviderPage): Entry => {
    const scope = page.context as ExprScope | undefined;
    const id = idText(idOf(raw, scope), f.id, true)!;
    const timeValue = timeOf(raw, scope);
    const time = readTime(timeValue, settings, id);
    const text = textOf ? plainText(textOf(raw, scope), f.text!) : '';
    const attachments: Attachment[] = attachmentsOf ? toAttachments(attachmentsOf(raw, scope), f.attachments!) : EMPTY_ATTACHMENTS;
    const message = {
      id,
      provider: name,
      channel: target.id,
      time,
      sender: {
        id: senderId ? (idText(senderId(raw, scope), f.sender!.id!, false) ?? '') : '',
        name: senderName ? optionalText(senderName(raw, scope), f.sender!.name!) : null,
        avatar: senderAvatar ? optionalText(senderAvatar(raw, scope), f.sender!.avatar!) : null,
      },
      type: typeOf(raw, scope, attachments.length > 0 && text === ''),
      text,
      replyTo: replyOf ? idText(replyOf(raw, scope), f.replyTo!, false) : null,
      updatedTime: editTime(raw, scope, timeValue, time, settings),
      deleted: deletedOf ? deletedOf(raw, scope) === true : false,
      attachments: attachments === EMPTY_ATTACHMENTS ? [] : attachments,
    };
    return { time, message: createMessage(message, settings.raw ? raw : undefined) };
  };

  return {
    normalize,
    timeOf: (raw, scope, settings) => toTime(timeOf(raw, scope), f.time.format, () => zoneOf(settings)),
  };
}

/** `fields.type`: the value (lower-cased, mapped), or the attachments-only type, or the default; then the map. */
function messageType(spec: MessageFields['type'], compile: (text: string) => Expr): (raw: unknown, scope: ExprScope | undefined, attachmentsOnly: boolean) => string {
  const typeOf = spec?.path === undefined ? undefined : compile(spec.path);
  const fallback = spec?.default ?? 'text';
  const lowercase = spec?.lowercase ?? true;
  const map = spec?.map ? new Map(Object.entries(spec.map)) : undefined;
  const onlyAttachments = spec?.attachmentsOnly;
  return (raw, scope, attachmentsOnly) => {
    let type: string;
    const given = typeOf?.(raw, scope);
    // `default` stands for a missing, null or "" type (Mattermost sends "" for ordinary posts)
    if (given !== null && given !== undefined && given !== '') {
      type = String(given);
      if (lowercase) type = type.toLowerCase();
    } else if (onlyAttachments !== undefined && attachmentsOnly) {
      type = onlyAttachments;
    } else {
      type = fallback;
    }
    return map ? (map.get(type) ?? type) : type;
  };
}

/** One field of a record map: an expression and how its value is read. */
export type RecordField =
  | { path: string; as: 'id'; required?: boolean }
  | { path: string; as: 'text' }
  | { path: string; as: 'flag'; default?: boolean }
  | { path: string; as: 'time'; format: TimeFormat };

type ValueOf<F extends RecordField> = F extends { as: 'id'; required: true }
  ? string
  : F extends { as: 'id' | 'text' }
    ? string | null
    : F extends { as: 'flag'; default: boolean }
      ? boolean
      : F extends { as: 'flag' }
        ? boolean | null
        : number | null;

export type RecordOf<S extends Record<string, RecordField>> = { [K in keyof S]: ValueOf<S[K]> };

/**
 * A record map: `{ id: { path: 'id', as: 'id', required: true }, name: { path: 'name', as: 'text' } }`
 * reads `{ id: string, name: string | null }` from each record. Paths in errors are the spec's keys under `where`
 * (`channels.fields.name`).
 */
export function compileRecordMap<S extends Record<string, RecordField>>(
  spec: S,
  compile: (text: string) => Expr,
  where: string,
  zone: () => Zone = () => parseZone('UTC'),
): (raw: unknown, scope?: ExprScope) => RecordOf<S> {
  const readers = Object.entries(spec).map(([key, field]) => {
    const read = compile(field.path);
    const path = `${where}.${key}`;
    switch (field.as) {
      case 'id':
        return [key, (raw: unknown, scope?: ExprScope) => idText(read(raw, scope), path, field.required === true)] as const;
      case 'text':
        return [key, (raw: unknown, scope?: ExprScope) => optionalText(read(raw, scope), path)] as const;
      case 'flag':
        return [key, (raw: unknown, scope?: ExprScope) => flag(read(raw, scope)) ?? field.default ?? null] as const;
      case 'time':
        return [
          key,
          (raw: unknown, scope?: ExprScope) => {
            const value = read(raw, scope);
            if (value === null || value === '') return null;
            const time = toTime(value, field.format, zone);
            if (time === undefined) throw new FieldIssue(path, `expected ${FORMAT_WORDS[field.format]}, got ${shape(value)}`);
            return representable(time) ? time : null;
          },
        ] as const;
    }
  });
  return (raw, scope) => {
    const out: Record<string, unknown> = {};
    for (const [key, read] of readers) out[key] = read(raw, scope);
    return out as RecordOf<S>;
  };
}
