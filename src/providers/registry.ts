import { UsageError } from '../errors.js';
import type { Definition } from './definition.js';
import { discordDefinition } from './definitions/discord.js';
import { discuzDefinition } from './definitions/discuz.js';
import { dishawangDefinition } from './definitions/dishawang.js';
import { matrixDefinition } from './definitions/matrix.js';
import { mattermostDefinition } from './definitions/mattermost.js';
import { rocketchatDefinition } from './definitions/rocketchat.js';
import { zulipDefinition } from './definitions/zulip.js';
import { relationDefinition } from './definitions/relation.js';
import { slackDefinition } from './definitions/slack.js';
import { builtin, loadDefinition } from './load.js';
import { BUILTIN_PROVIDER_NAMES, type ProviderName } from './names.js';
import type { Provider } from './types.js';

/** The shipped definitions: data, compiled only when asked for. */
export const BUILTIN_DEFINITIONS: Readonly<Record<ProviderName, Definition>> = {
  relation: relationDefinition,
  discuz: discuzDefinition,
  dishawang: dishawangDefinition,
  slack: slackDefinition,
  discord: discordDefinition,
  mattermost: mattermostDefinition,
  zulip: zulipDefinition,
  matrix: matrixDefinition,
  rocketchat: rocketchatDefinition,
};

const compiled = new Map<string, Provider>();

/** User definitions: the config file's `"providers"`. */
export type UserDefinitions = Readonly<Record<string, unknown>>;

/**
 * A built-in, or a definition from the config (its `"providers"` section).
 * A config definition is validated here, when used: one broken definition
 * must not break every other command.
 */
export function getProvider(name: string, definitions: UserDefinitions = {}): Provider {
  const cached = compiled.get(name);
  if (cached && (isBuiltin(name) || !Object.hasOwn(definitions, name))) return cached;
  if (isBuiltin(name)) {
    const provider = builtin(name, BUILTIN_DEFINITIONS[name]);
    compiled.set(name, provider);
    return provider;
  }
  if (Object.hasOwn(definitions, name)) return loadDefinition(name, definitions[name]);
  const own = Object.keys(definitions);
  throw new UsageError(`unknown provider "${name}"`, {
    hint: `built-in providers: ${BUILTIN_PROVIDER_NAMES.join(', ')}${own.length ? `; defined in the config: ${own.join(', ')}` : ''}`,
  });
}

export function isBuiltin(name: string): name is ProviderName {
  return (BUILTIN_PROVIDER_NAMES as readonly string[]).includes(name);
}

export function knowsProvider(name: string, definitions: UserDefinitions): boolean {
  return isBuiltin(name) || Object.hasOwn(definitions, name);
}
