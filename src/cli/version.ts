import { readFileSync } from 'node:fs';

/**
 * pg-split's version, read at run time from its package.json: the nearest one
 * named pg-split above this module (`dist/cli/` in the package, two levels
 * up; `build/src/cli/` in the tests, three). ESM only, like the CLI itself.
 */
export function packageVersion(): string {
  let url = new URL('../../package.json', import.meta.url);
  for (let level = 0; level < 3; level++) {
    try {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'pg-split' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json at this level: look one higher.
    }
    url = new URL('../package.json', url);
  }
  throw new Error(`no package.json of pg-split found above ${new URL('.', import.meta.url).pathname}`);
}
