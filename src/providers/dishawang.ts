/** dishawang, compiled from its definition (./definitions/dishawang.ts). */
import { dishawangDefinition } from './definitions/dishawang.js';
import { builtin } from './load.js';
import type { PageProvider } from './types.js';

export { DISHAWANG_DEFAULT_TIMEZONE } from './definitions/dishawang.js';
export const dishawang = builtin('dishawang', dishawangDefinition) as PageProvider;
