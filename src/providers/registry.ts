import { UsageError } from '../errors.js';
import { discuz } from './discuz.js';
import { dishawang } from './dishawang.js';
import type { ProviderName } from './names.js';
import { relation } from './relation.js';
import type { Provider } from './types.js';

export const PROVIDERS: Readonly<Record<ProviderName, Provider>> = { relation, discuz, dishawang };

export function getProvider(name: string): Provider {
  const provider = (PROVIDERS as Record<string, Provider | undefined>)[name];
  if (!provider) throw new UsageError(`unknown provider "${name}"`, { hint: `built-in providers: ${Object.keys(PROVIDERS).join(', ')}` });
  return provider;
}
