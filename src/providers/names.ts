export const BUILTIN_PROVIDER_NAMES = ['relation', 'discuz', 'dishawang', 'slack', 'discord', 'mattermost', 'zulip', 'matrix', 'rocketchat'] as const;
export type ProviderName = (typeof BUILTIN_PROVIDER_NAMES)[number];

export function isProviderName(name: string): name is ProviderName {
  return (BUILTIN_PROVIDER_NAMES as readonly string[]).includes(name);
}
