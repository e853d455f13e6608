// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner.
// Usage: node scripts/run-tests.mjs [substring ...]  — only files whose path contains one of the substrings.
// A compiled test whose TypeScript source no longer exists (deleted or moved since the last build) is refused:
// `npm run build` starts from an empty dist/, so run it and the stale copy is gone.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

if (!existsSync('dist')) {
  console.error('no dist/ folder: run `npm run build` first');
  process.exit(1);
}
const filters = process.argv.slice(2);
const all = collect('dist', []).sort();
const stale = all.filter((f) => !existsSync(relative('dist', f).replace(/\.js$/, '.ts')));
if (stale.length > 0) {
  console.error(`compiled tests whose source is gone (deleted or moved): ${stale.join(', ')}`);
  console.error('run `npm run build` (it rebuilds dist/ from scratch), then run the tests again');
  process.exit(1);
}
const files = all.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files under dist/ match ${filters.join(', ') || 'anything'} (did the build run?)`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
