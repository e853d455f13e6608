// The package as a user gets it: packs lib/ (built by `npm run build`), installs the tarball into a
// scratch project in a temporary folder, type-checks and runs every ```ts block of README.md there
// (so the README's examples are the tested ones) and an import of every package entry, and runs the
// installed `parley` command (--help, --version, every command's --help, and `parley up --for 1`).
// A block's `// prints: TEXT` comments must appear in its output, in order.
// Usage: node scripts/consumer-test.mjs [--keep]   (--keep leaves the scratch project for a look)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const started = Date.now();
const log = (line) => console.log(`consumer-test: ${line}`);
const fail = (line) => {
  console.error(`consumer-test: FAILED: ${line}`);
  process.exit(1);
};

if (!existsSync(join(root, 'lib', 'index.js'))) fail('no lib/ build: run `npm run build` first');

// npm passes its own settings to scripts as npm_* variables; the scratch project must not inherit
// the repository's (its prefix, its scripts' context). Keep only where packages come from.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.startsWith('npm_') || /^npm_config_(cache|registry|userconfig|proxy|https_proxy|noproxy)$/i.test(k),
  ),
);
const run = (cmd, args, cwd, timeout = 60_000) => {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout });
  if (r.status !== 0) {
    fail(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
};

const scratch = mkdtempSync(join(tmpdir(), 'parley-consumer-'));
try {
  // 1. Pack what `npm publish` would ship. --ignore-scripts: lib/ is already built, and the
  //    `prepare` build would wipe dist/ under tests that may be running.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], {
      cwd: root,
      env,
      encoding: 'utf8',
    }),
  )[0];
  const files = packed.files.map((f) => f.path);
  const forbidden = files.filter(
    (f) =>
      /\.test\.|\.typecheck\.|(^|\/)(test|bench|dist|src)\//.test(f) || /\/testing\/.*(harness|mesh|helpers)/.test(f),
  );
  if (forbidden.length > 0) fail(`the package ships test or development files: ${forbidden.join(', ')}`);
  for (const need of [
    'lib/index.js',
    'lib/index.d.ts',
    'lib/testing.js',
    'lib/traffic/index.js',
    'bin/parley',
    'LICENSE',
  ]) {
    if (!files.includes(need)) fail(`the package does not ship ${need}`);
  }
  log(`packed ${packed.filename}: ${files.length} files, ${(packed.size / 1024).toFixed(0)} KiB`);

  // 2. A scratch project that depends on the tarball.
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'parley-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, packed.filename)], app, 120_000);
  log('installed the tarball into a scratch project');

  // 3. The README's TypeScript blocks, type-checked against the installed package and run.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  if (blocks.length === 0) fail('README.md has no ```ts block');
  const examples = blocks.map((code, i) => ({ name: `readme-${i + 1}`, code }));
  // Every entry of the export map resolves, with types, from a consumer's import.
  examples.push({
    name: 'entries',
    code: [
      "import { createNode, ParleyError } from 'parley';",
      "import { createTraffic, RetryPolicy } from 'parley/traffic';",
      "import { FakeClock, MemoryNetwork, seededRandom, startCluster, waitUntil } from 'parley/testing';",
      'const loaded = [createNode, ParleyError, createTraffic, RetryPolicy, FakeClock, MemoryNetwork, seededRandom, startCluster, waitUntil];',
      "if (!loaded.every((x) => typeof x === 'function')) throw new Error('an entry lacks an export');",
      "console.log('entries resolve'); // prints: entries resolve",
      '',
    ].join('\n'),
  });
  mkdirSync(join(app, 'src'));
  for (const e of examples) writeFileSync(join(app, 'src', `${e.name}.ts`), e.code);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023'],
          strict: true,
          outDir: 'out',
          rootDir: 'src',
          // @types/node from the repository: the scratch project installs only the tarball.
          typeRoots: [join(root, 'node_modules', '@types')],
          types: ['node'],
        },
        include: ['src'],
      },
      null,
      2,
    ),
  );
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', app], app);
  log(`type-checked ${examples.length - 1} README example(s) and the package entries`);
  for (const e of examples) {
    const out = run(process.execPath, [join(app, 'out', `${e.name}.js`)], app, 30_000);
    let at = 0;
    for (const m of e.code.matchAll(/\/\/ prints: (.+)$/gm)) {
      const want = m[1].trim();
      const found = out.indexOf(want, at);
      if (found < 0) fail(`README example ${e.name} should print '${want}' (in order); it printed:\n${out}`);
      at = found + want.length;
    }
    log(`ran ${e.name}`);
  }

  // 4. The installed command.
  const help = run('npx', ['parley', '--help'], app);
  if (!help.includes('usage: parley')) fail(`npx parley --help printed:\n${help}`);
  const version = run('npx', ['parley', '--version'], app).trim();
  const expected = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  if (version !== `parley ${expected}`)
    fail(`npx parley --version printed '${version}', expected 'parley ${expected}'`);
  for (const command of [
    'up',
    'node',
    'call',
    'emit',
    'broadcast',
    'status',
    'server',
    'cluster',
    'kv',
    'stream',
    'publish',
    'consume',
    'dlq',
  ]) {
    const bin = join(app, 'node_modules', '.bin', 'parley'); // what npx runs, without npx's start-up per command
    if (!run(bin, [command, '--help'], app).includes(`usage: parley ${command}`)) {
      fail(`parley ${command} --help printed no usage`);
    }
  }
  log('npx parley --help, --version and <command> --help work');

  // 5. The demo cluster from the installed package: it runs, and prints commands that work here.
  const base = await freePortBase(6);
  const up = run('npx', ['parley', 'up', '--for', '1', '--port-base', String(base)], app, 60_000);
  // Authentication is on: the printed call carries the cluster secret's file.
  if (
    !up.includes(`npx parley call math.add '{"a":1,"b":2}' --seed 127.0.0.1:${base} --secret-file `) ||
    up.includes('bin/parley')
  ) {
    fail(`npx parley up printed commands that do not work in a consumer project:\n${up}`);
  }
  if (!up.includes(`npx parley publish orders.new '{"id":1}' --servers 127.0.0.1:${base},`)) {
    fail(`npx parley up printed no publish command for its demo stream:\n${up}`);
  }
  if (!up.includes('all nodes stopped')) fail(`npx parley up did not stop cleanly:\n${up}`);
  log('npx parley up runs from the installed package');
  log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  if (keep) log(`scratch project kept in ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}

/** `count` consecutive free ports on 127.0.0.1. */
async function freePortBase(count) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const held = [];
    try {
      for (let i = 0; i < count; i++) {
        const server = createServer();
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(base + i, '127.0.0.1', resolve);
        });
        held.push(server);
      }
      return base;
    } catch {
      // taken: try another range
    } finally {
      await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  }
  fail('no free port range for parley up');
}
