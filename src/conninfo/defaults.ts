import { KEYWORDS } from './keywords.js';
import type { ConnParams } from './params.js';

/** Environment variables, e.g. `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Fills every keyword the string did not set, as libpq's
 * `conninfo_add_defaults`: the environment variable (an empty one counts as
 * set), then `PGREQUIRESSL=1` for sslmode, then the compiled-in default, then
 * the operating-system user for `user`. With `sslrootcert=system` and no
 * sslmode given, sslmode defaults to `verify-full`.
 */
export function applyDefaults(params: ConnParams, env: Env, osUser: () => string): Map<string, string> {
  const options = new Map<string, string>();
  let sslmodeDefaulted = false;
  for (const { keyword, envVar, compiled } of KEYWORDS) {
    const explicit = params.get(keyword);
    const fromEnv = envVar === null ? undefined : env[envVar];
    if (explicit !== undefined) options.set(keyword, explicit);
    else if (fromEnv !== undefined) options.set(keyword, fromEnv);
    else if (keyword === 'sslmode' && env['PGREQUIRESSL']?.startsWith('1')) options.set(keyword, 'require');
    else if (compiled !== null) {
      options.set(keyword, compiled);
      if (keyword === 'sslmode') sslmodeDefaulted = true;
    } else if (keyword === 'user') options.set(keyword, osUser());
  }
  if (sslmodeDefaulted && options.get('sslrootcert') === 'system') options.set('sslmode', 'verify-full');
  return options;
}
