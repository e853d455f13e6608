// Builds from a clean slate, so a deleted or moved source file cannot leave a stale compiled copy behind:
//   lib/   what the package ships (tsconfig.build.json: src/ without tests, test kits, *.typecheck.ts, the simulator)
//   dist/  the development build (tsconfig.json: src/, test/ and bench/, tests included), what the tests run
// Usage: node scripts/build.mjs [--lib-only]
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', '.bin', 'tsc');
const libOnly = process.argv.includes('--lib-only');

const steps = [['lib', 'tsconfig.build.json']];
if (!libOnly) steps.push(['dist', 'tsconfig.json']);
for (const [out, config] of steps) {
  rmSync(join(root, out), { recursive: true, force: true });
  const result = spawnSync(tsc, ['-p', join(root, config)], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error(`build: tsc -p ${config} failed${result.error ? `: ${result.error.message}` : ''}`);
    process.exit(result.status ?? 1);
  }
}
