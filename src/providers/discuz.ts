/** Discuz! Q, compiled from its definition (./definitions/discuz.ts). */
import { discuzDefinition } from './definitions/discuz.js';
import { builtin } from './load.js';
import type { PageProvider } from './types.js';

export const discuz = builtin('discuz', discuzDefinition) as PageProvider;
