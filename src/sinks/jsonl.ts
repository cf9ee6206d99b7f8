import type { Message } from '../message.js';
import type { Sink } from './types.js';
import { stringifyJson } from '../text/json.js';

/**
 * One message per line, exactly as normalized (key order and text untouched).
 * The hot path of every export: nothing but JSON.stringify per message.
 */
export function createJsonlSink(): Sink {
  return {
    begin: () => '',
    format: (message: Message) => `${stringifyJson(message)}\n`,
    end: () => '',
  };
}
