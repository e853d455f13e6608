import { readFileSync } from 'node:fs';

/**
 * The version in the package.json of the installed parley package. Found by walking up from this
 * file, so it holds in every layout the CLI runs from (lib/cli/ when installed, dist/src/cli/ in a clone).
 */
export function packageVersion(): string {
  for (let url = new URL('./', import.meta.url); ; url = new URL('../', url)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'parley' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no (readable) package.json at this level: keep walking up
    }
    if (url.pathname === '/') return 'unknown';
  }
}
