import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

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

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

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
});
