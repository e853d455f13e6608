import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { missingExports } from './public-api.js';

/** The layer rules of docs/ARCHITECTURE.md: which top-level folders of src/ each folder may import. */
const ALLOWED: Record<string, readonly string[]> = {
  wire: ['wire'],
  base: ['wire', 'base'],
  transport: ['wire', 'base', 'transport'],
  raft: ['wire', 'base', 'raft'],
  node: ['wire', 'base', 'transport', 'node'],
  traffic: ['wire', 'base', 'transport', 'node', 'traffic'],
  kv: ['wire', 'base', 'raft', 'kv'],
  queue: ['wire', 'base', 'raft', 'kv', 'queue'],
  cluster: ['wire', 'base', 'transport', 'raft', 'node', 'traffic', 'kv', 'queue', 'cluster'],
};
const BENCH_ONLY_PACKAGES = ['moleculer', '@grpc/grpc-js', 'nats', 'etcd3'];

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const root = join(repo, 'src');

/** The package's entries (package.json "exports"), as declaration files relative to the build output. */
const ENTRIES = ['index.d.ts', 'traffic/index.d.ts', 'testing.d.ts'];
/** Exported for inspection only: the types they use inside are not part of the API. */
const OPAQUE = [
  'cluster/server/kv-member.d.ts#KvMember',
  'cluster/server/kv-member.d.ts#KvMemberOptions',
  'cluster/server/group-host.d.ts#GroupHost',
];
/** The public test kit (`parley/testing`): the one shipped file that may import `testing/` folders. */
const TESTING_ENTRY = 'testing.ts';

/** A tsconfig "exclude" glob (`**`, `*`) as a regular expression over repository-relative paths. */
function globToRegExp(glob: string): RegExp {
  const pattern = glob
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '**'
          ? '.*'
          : part === '*'
            ? '[^/]*'
            : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${pattern}$`);
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statements =
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*'([^']+)'|^\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;
  return [...text.matchAll(statements)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/**
 * What the package ships: the inputs of tsconfig.build.json (src/ minus its excludes), plus every
 * file they import (tsc compiles an imported file even when a glob excludes it).
 */
function shippedSources(): string[] {
  const config = JSON.parse(readFileSync(join(repo, 'tsconfig.build.json'), 'utf8')) as { exclude: string[] };
  const excluded = config.exclude.map(globToRegExp);
  const shipped = new Set(sources(root).filter((f) => !excluded.some((re) => re.test(relative(repo, f)))));
  const queue = [...shipped];
  while (queue.length > 0) {
    const file = queue.pop()!;
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      if (!shipped.has(target) && existsSync(target)) {
        shipped.add(target);
        queue.push(target);
      }
    }
  }
  return [...shipped].sort();
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

describe('architecture', () => {
  it('src/ exists where the test looks for it', () => {
    assert.ok(statSync(join(root, 'wire')).isDirectory(), `expected TypeScript sources at ${root}`);
  });

  it('no layer imports a layer above it', () => {
    const violations: string[] = [];
    for (const file of sources(root)) {
      const layer = relative(root, file).split('/')[0]!;
      const allowed = ALLOWED[layer];
      if (!allowed) continue; // cli/, index.ts: may import anything
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) {
          const target = relative(root, resolve(dirname(file), spec)).split('/')[0]!;
          if (!allowed.includes(target.replace(/\.js$/, '')))
            violations.push(`${relative(root, file)} imports ${spec}`);
        } else if (BENCH_ONLY_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`))) {
          violations.push(`${relative(root, file)} imports benchmark-only package ${spec}`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  it('nothing the package ships imports node:assert, and only the test-kit entry imports testing/ folders', () => {
    const violations: string[] = [];
    const shipped = shippedSources();
    // A package import must be a runtime dependency (optional peers are loaded with import()).
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies?: object };
    const dependencies = new Set(Object.keys(pkg.dependencies ?? {}));
    assert.ok(shipped.length > 50 && shipped.some((f) => f.endsWith('src/index.ts')), 'shipped sources found');
    for (const file of shipped) {
      const path = relative(root, file);
      const inTestKit = path === TESTING_ENTRY || path.split('/').includes('testing');
      for (const spec of importsOf(file)) {
        if (spec === 'node:assert' || spec.startsWith('node:assert/') || spec === 'assert') {
          violations.push(`${path} imports ${spec} (shipped code throws ParleyError, it does not assert)`);
        }
        if (!inTestKit && spec.startsWith('.') && spec.split('/').includes('testing')) {
          violations.push(`${path} imports the test kit ${spec} (only src/${TESTING_ENTRY} may)`);
        }
        const packageName = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!spec.startsWith('.') && !spec.startsWith('node:') && !dependencies.has(packageName)) {
          violations.push(`${path} imports ${spec}, which is not a dependency of the package`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  for (const layer of ['kv', 'queue']) {
    it(`${layer}/ stays a pure state machine: no I/O, timers or process access through node: modules`, () => {
      const violations: string[] = [];
      for (const file of sources(join(root, layer))) {
        if (file.endsWith('.test.ts') || relative(root, file).split('/').includes('testing')) continue;
        for (const spec of importsOf(file))
          if (spec.startsWith('node:')) violations.push(`${relative(root, file)} imports ${spec}`);
        // Timers and the process reach a module without an import: look for them by name too.
        const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
        for (const m of text.matchAll(
          /\b(setTimeout|setInterval|setImmediate|queueMicrotask|process\.|Date\.now|performance\.now|Math\.random)\b/g,
        ))
          violations.push(`${relative(root, file)} uses ${m[1]}`);
      }
      assert.deepEqual(violations, []);
    });
  }

  it('every type that a public signature uses is exported by the package', () => {
    const out = mkdtempSync(join(tmpdir(), 'parley-dts-'));
    try {
      const tsc = spawnSync(
        join(repo, 'node_modules', '.bin', 'tsc'),
        ['-p', join(repo, 'tsconfig.build.json'), '--emitDeclarationOnly', '--outDir', out],
        { encoding: 'utf8' },
      );
      assert.equal(tsc.status, 0, `tsc failed: ${tsc.stdout}${tsc.stderr}`);
      const missing = missingExports(out, ENTRIES, OPAQUE);
      assert.deepEqual(
        missing.map((m) => `${m.type} (used by ${m.usedBy}): export it from src/index.ts or an entry`),
        [],
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
