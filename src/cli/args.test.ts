import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { intFlag, jsonArg, parseCommandArgs, seedsFlag } from './args.js';
import { formatBytes, formatDuration, formatTable } from './table.js';
import { UsageError } from './usage-error.js';

const spec = { seed: { type: 'string', multiple: true }, json: { type: 'boolean' } } as const;

describe('CLI arguments', () => {
  it('parses flags and positionals', () => {
    const r = parseCommandArgs(['a.b', '{}', '--seed', 'h:1', '--seed=h:2', '--json'], spec, 'u', { min: 1, max: 2 });
    assert.deepEqual(r.positionals, ['a.b', '{}']);
    assert.deepEqual(r.flags.seed, ['h:1', 'h:2']);
    assert.equal(r.flags.json, true);
  });

  it('turns unknown flags and wrong positional counts into usage errors', () => {
    assert.throws(
      () => parseCommandArgs(['--nope'], spec, 'u', { min: 0, max: 0 }),
      (e: unknown) => e instanceof UsageError && /nope/.test(e.message),
    );
    assert.throws(() => parseCommandArgs([], spec, 'u', { min: 1, max: 1 }), /missing argument/);
    assert.throws(() => parseCommandArgs(['a', 'b'], spec, 'u', { min: 1, max: 1 }), /unexpected argument 'b'/);
    assert.throws(() => parseCommandArgs(['--seed'], spec, 'u', { min: 0, max: 0 }), UsageError);
  });

  it('validates numbers, JSON and seeds', () => {
    assert.equal(intFlag('42', 'port', 'u', 0, 65535), 42);
    assert.throws(() => intFlag('70000', 'port', 'u', 0, 65535), /--port must be a whole number from 0 to 65535/);
    assert.throws(() => intFlag('1.5', 'port', 'u', 0, 65535), UsageError);
    assert.deepEqual(jsonArg('{"a":1}', 'params', 'u'), { a: 1 });
    assert.throws(() => jsonArg('{a', 'params', 'u'), /params is not valid JSON/);
    assert.deepEqual(seedsFlag(['127.0.0.1:1,h:2'], 'u'), ['127.0.0.1:1', 'h:2']);
    assert.throws(() => seedsFlag(['nohostport'], 'u'), /--seed expects host:port/);
  });
});

describe('CLI settings: flag, then PARLEY_* variable, then parley.config.json', () => {
  const settingsSpec = {
    seed: { type: 'string', multiple: true },
    timeout: { type: 'string' },
    id: { type: 'string' },
  } as const;
  const withConfig = (config: string | null, fn: (cwd: string) => void) => {
    const cwd = mkdtempSync(join(tmpdir(), 'parley-settings-'));
    try {
      if (config !== null) writeFileSync(join(cwd, 'parley.config.json'), config);
      fn(cwd);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  };
  const parse = (argv: string[], env: Record<string, string>, cwd: string) =>
    parseCommandArgs(argv, settingsSpec, 'u', { min: 0, max: 0 }, { env, cwd });

  it('takes a setting from the file, the environment over the file, a flag over both', () => {
    withConfig('{"seed": ["f:1", "f:2"], "timeout": 100}', (cwd) => {
      assert.deepEqual(parse([], {}, cwd).flags.seed, ['f:1', 'f:2']);
      assert.equal(parse([], {}, cwd).flags.timeout, '100');
      assert.deepEqual(parse([], { PARLEY_SEED: 'e:1,e:2' }, cwd).flags.seed, ['e:1,e:2']);
      assert.deepEqual(parse(['--seed', 'c:1'], { PARLEY_SEED: 'e:1' }, cwd).flags.seed, ['c:1']);
      assert.equal(parse(['--timeout', '5'], { PARLEY_TIMEOUT: '7' }, cwd).flags.timeout, '5');
      assert.equal(parse([], { PARLEY_TIMEOUT: '7' }, cwd).flags.timeout, '7');
    });
  });

  it('applies settings only to flags that have one, and only to commands that take them', () => {
    withConfig('{"servers": ["s:1"]}', (cwd) => {
      const r = parse([], { PARLEY_ID: 'x', PARLEY_SERVERS: 's:2' }, cwd);
      assert.equal(r.flags.id, undefined);
      assert.equal('servers' in r.flags, false);
    });
  });

  it('refuses a config file that is not JSON, not an object, or has an unknown key or a bad value', () => {
    withConfig('{nope', (cwd) => assert.throws(() => parse([], {}, cwd), /parley.config.json is not valid JSON/));
    withConfig('[1]', (cwd) => assert.throws(() => parse([], {}, cwd), /must hold a JSON object/));
    withConfig('{"sead": "h:1"}', (cwd) => assert.throws(() => parse([], {}, cwd), /unknown setting "sead"/));
    withConfig('{"timeout": [1, 2]}', (cwd) => assert.throws(() => parse([], {}, cwd), /"timeout" takes one value/));
    withConfig('{"seed": {"a": 1}}', (cwd) => assert.throws(() => parse([], {}, cwd), /must be a string/));
    withConfig(null, (cwd) => assert.deepEqual({ ...parse([], {}, cwd).flags }, {}));
  });
});

describe('CLI tables', () => {
  it('aligns columns and right-aligns numbers', () => {
    const out = formatTable(
      ['NAME', 'N'],
      [
        ['a', 5],
        ['long-name', 123],
      ],
    ).split('\n');
    assert.deepEqual(out, ['NAME       N', '---------  ---', 'a            5', 'long-name  123']);
  });

  it('formats durations and sizes for people', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(61_000), '1m01s');
    assert.equal(formatDuration(3_660_000), '1h01m');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
  });
});
