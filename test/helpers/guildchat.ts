/**
 * A definition for the Discord-shaped fixture (fixtures/providers/discord.js), written from Discord's
 * public reference as a user would write one: the tests export it by definition alone. Named guildchat:
 * a config definition never shadows a built-in provider.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type { Sandbox } from './cli.js';
import { readmeExample } from './readme.js';

export const GUILDCHAT = 'guildchat';

export const guildchat = {
  summary: 'a Discord-shaped guild (API v10): channel messages by before= snowflake, per-route rate-limit headers',
  auth: [{ type: 'header', name: 'Authorization', from: 'token', prefix: 'Bot ' }],
  request: { path: '/channels/{channel}/messages' },
  paging: { type: 'cursor', param: 'before', from: { body: '[-1].id' }, size: { param: 'limit', default: 100, max: 100 } },
  order: 'newest-first',
  records: '@',
  httpErrors: {
    message: 'message',
    status: {
      // Missing Access (code 50001): under --all-channels the channel is skipped and named, never a failure
      '403': { kind: 'unreadable', text: 'the bot may not read this channel' },
      '404': { kind: 'usage', text: 'unknown channel', hint: 'check --channel' },
    },
  },
  rateLimit: { remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetAfter: 'X-RateLimit-Reset-After', bucket: 'X-RateLimit-Bucket' },
  fields: {
    id: 'id',
    time: { path: 'timestamp', format: 'iso' },
    sender: {
      id: 'author.id',
      name: 'author.global_name || author.username',
      avatar: "author.avatar && join('', ['https://cdn.discordapp.com/avatars/', author.id, '/', author.avatar, '.png'])",
    },
    // 0 default, 19 reply; 7 a member joined, 6 a pin notice
    type: { path: 'to_string(type)', map: { '0': 'text', '19': 'text', '7': 'system', '6': 'system' } },
    text: 'content',
    replyTo: 'type == `19` && message_reference.message_id || null',
    updated: { path: 'edited_timestamp', format: 'iso' },
    attachments: 'attachments[].{url: url, name: filename, type: content_type}',
  },
};

/**
 * The README's Discord-shaped definition ("Back up a whole workspace", example guildish), for one guild: its
 * channels (categories left out), its active threads, then each text or announcement channel's archived public
 * threads. The README's guild id is replaced by the fixture's, so the manual's example is what the tests run.
 */
export function guildchatFor(guild: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify(readmeExample('guildish')).replaceAll('1190000000000000000', guild)) as Record<string, unknown>;
}

/** The config file of a sandbox, holding these definitions. */
export function writeDefinitions(sandbox: Sandbox, providers: Record<string, unknown>): void {
  mkdirSync(dirname(sandbox.config), { recursive: true });
  writeFileSync(sandbox.config, JSON.stringify({ profiles: {}, providers }, null, 2), { mode: 0o600 });
}
