import assert from 'node:assert/strict';
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
