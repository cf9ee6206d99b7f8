import { z } from 'zod';
import { BUILTIN_PROVIDER_NAMES } from '../providers/names.js';
import { suggestName } from '../text/suggest.js';
import { parseZone } from '../text/zone.js';

export const FORMATS = ['jsonl', 'csv', 'md', 'html', 'sqlite'] as const;

/** A zone offset like +08:00 / -05:30 / Z, or an IANA name like Asia/Shanghai. */
const timezone = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    try {
      parseZone(value);
    } catch (error) {
      // parseZone's message quotes the value: a zone name is no secret.
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name like RELATION_TOKEN');

/**
 * One profile of the config file. Keys are the camelCase names of the dump
 * options (DESIGN.md section 2); unknown keys are an error that names them.
 */
export const profileSchema = z.strictObject({
  provider: z.string().min(1),
  // Credentials are sent to this host, so nothing but http(s) makes sense.
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  token: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  tokenEnv: envName.optional(),
  apiKeyEnv: envName.optional(),
  pageSize: z.number().int().positive().optional(),
  rate: z.number().positive().optional(),
  concurrency: z.number().int().positive().optional(),
  retries: z.number().int().nonnegative().optional(),
  timeout: z.number().int().positive().optional(),
  timezone: timezone.optional(),
  format: z.enum(FORMATS).optional(),
  output: z.string().min(1).optional(),
  partition: z.number().int().positive().optional(),
  media: z.boolean().optional(),
  mediaDir: z.string().min(1).optional(),
  mediaMaxSize: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
});

const PROVIDER_NAME = /^[a-z][a-z0-9_-]*$/;

export const configSchema = z
  .strictObject({
    profiles: z.record(z.string(), profileSchema).default({}),
    /**
     * Provider definitions (DESIGN.md section 4b). Checked against the
     * definition schema when used (dump, providers show/check), so one broken
     * definition does not stop every other command.
     */
    providers: z
      .record(z.string().regex(PROVIDER_NAME, 'a provider name is lower-case letters, digits, - and _'), z.record(z.string(), z.unknown()))
      .optional()
      .superRefine((providers = {}, ctx) => {
        for (const name of Object.keys(providers)) {
          if ((BUILTIN_PROVIDER_NAMES as readonly string[]).includes(name)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'is a built-in provider: give the definition its own name' });
          }
        }
      }),
  })
  .superRefine((config, ctx) => {
    // A profile is checked when written and when read: a typo in "provider" is
    // named by its key here, not as an unknown --provider at dump time.
    const defined = Object.keys(config.providers ?? {});
    const known = [...BUILTIN_PROVIDER_NAMES, ...defined];
    for (const [name, profile] of Object.entries(config.profiles)) {
      // A profile named like a built-in holds your settings for that built-in; naming another
      // provider would make `--provider relation` quietly talk to a different API.
      if ((BUILTIN_PROVIDER_NAMES as readonly string[]).includes(name) && profile.provider !== name) {
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', name, 'provider'],
          message: `a profile named like the built-in provider "${name}" must use that provider, not "${profile.provider}": rename the profile`,
        });
      }
      if (known.includes(profile.provider)) continue;
      const guess = suggestName(profile.provider, known);
      ctx.addIssue({
        code: 'custom',
        path: ['profiles', name, 'provider'],
        message: `unknown provider "${profile.provider}"${guess ? ` (did you mean ${guess}?)` : ''}: expected ${known.join(', ')} or a definition under "providers"`,
      });
    }
  });

export type Profile = z.infer<typeof profileSchema>;
export type ConfigFile = z.infer<typeof configSchema>;
