import { readFileSync } from 'node:fs';

/** The provider definition in the JSON block after `<!-- example: NAME -->` in the README, so tests keep the manual true. */
export function readmeExample(name: string): Record<string, unknown> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = new RegExp(`<!-- example: ${name} -->\\s*\`\`\`json\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!match) throw new Error(`README has no example ${name}`);
  return (JSON.parse(match[1]!) as { providers: Record<string, Record<string, unknown>> }).providers[name]!;
}
