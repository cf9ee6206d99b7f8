/** relation, compiled from its definition (./definitions/relation.ts). */
import { relationDefinition } from './definitions/relation.js';
import { builtin } from './load.js';
import type { CursorProvider } from './types.js';

export const relation = builtin('relation', relationDefinition) as CursorProvider;
