// Adds lock entries for optional platform packages that the registry this project installs from
// does not carry (e.g. biome's and msgpackr-extract's macOS/Windows/musl builds). npm leaves them out
// of package-lock.json when it cannot fetch their metadata, and `npm ci` then refuses the lock as
// out of sync. An optional entry without a tarball is skipped by `npm ci` on every platform.
// Run after any `npm install` that rewrites the lock: node scripts/complete-lock.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const entry of Object.values(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    packages[key] = { version, optional: true, ...(entry.dev ? { dev: true } : {}) };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${path}: added ${added} optional platform entries`);
