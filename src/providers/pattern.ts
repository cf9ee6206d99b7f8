/**
 * Regular expressions from a definition (`envelope.messages[].pattern`),
 * run by RE2JS: a pure-JavaScript port of RE2 that matches in time linear in
 * the input. A config file's `^(a+)+$` against forty `a` and a `!` would keep
 * V8's backtracking engine busy for ever — and a busy main thread never runs
 * the SIGINT handler, so Ctrl-C could not stop it. RE2 syntax is Perl's
 * without lookaround and backreferences, which an error message rarely needs.
 *
 * Loaded on first use (a definition's patterns run only on a refusal), so a
 * normal run does not pay for loading it.
 */
import { createRequire } from 'node:module';

type Re2 = typeof import('re2js').RE2JS;
let re2: Re2 | undefined;
function engine(): Re2 {
  re2 ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
  return re2;
}

/** A case-insensitive search for `pattern` (compiled on first use). */
export function compilePattern(pattern: string): (text: string) => boolean {
  let compiled: ReturnType<Re2['compile']> | undefined;
  return (text) => {
    compiled ??= engine().compile(pattern, engine().CASE_INSENSITIVE);
    return compiled.matcher(text).find();
  };
}

/** Why RE2 refuses `pattern`, or undefined when it is one. */
export function patternProblem(pattern: string): string | undefined {
  try {
    engine().compile(pattern, engine().CASE_INSENSITIVE);
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : String(error);
    return `not a regular expression RE2 accepts (${reason}; lookaround and backreferences are not supported)`;
  }
}
