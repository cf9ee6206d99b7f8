import type { z } from 'zod';

/**
 * "profiles.work.rate: expected number, received string" lines, one per
 * problem (one per key for unknown keys). Never includes the offending value:
 * it may be a secret. Shared by the config file (profile/) and provider
 * definitions (providers/), so it lives below both.
 */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => line([...issue.path, key], 'unrecognized key'))
      : [line(issue.path, describe(issue))],
  );
}

function line(path: PropertyKey[], message: string): string {
  const at = path.map(String).join('.');
  return at ? `${at}: ${message}` : message;
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int') return 'expected an integer';
      // zod only knows the received type from its own (English) message.
      if (/received undefined$/.test(issue.message)) return 'required';
      return issue.message.replace(/^Invalid input: /, '');
    case 'invalid_format':
      return issue.format === 'url' ? 'expected an http:// or https:// URL' : issue.message;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      return issue.origin === 'number'
        ? `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`
        : issue.message;
    case 'too_big':
      return issue.origin === 'number'
        ? `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`
        : issue.message;
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}
