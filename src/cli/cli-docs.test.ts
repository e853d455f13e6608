/**
 * Runs the examples of docs/CLI.md, in the page's order, so the page cannot drift from the command.
 * In a ```sh block, `$ command` lines are run and the lines after them are the expected output:
 * `…` stands for text that varies (a line that is only `…` for any number of lines), numbers may
 * differ, runs of spaces and of table-rule dashes are flexible. A command ending in ` &` keeps running (until the end of the
 * test) and is ready once its output so far matches. `$ cat FILE` creates FILE from the lines shown,
 * `$ chmod MODE FILE` sets its mode; `$ export K=V` sets a variable for the commands after it and
 * `$ unset K` removes it. The demo ports 7401–7420 are moved to
 * free ports, and `npx parley` runs this build's command.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePortBase } from './testing/free-ports.js';
import { cliEnv, PARLEY_BIN } from './testing/run-cli.js';

const PAGE = fileURLToPath(new URL('../../../docs/CLI.md', import.meta.url));
const PORTS = 20; // 7401..7420

interface Example {
  readonly command: string;
  readonly expected: string[];
}

/** The `$ ` commands of the ```sh blocks, each with the output lines that follow it. */
export function examplesOf(markdown: string): Example[] {
  const examples: { command: string; expected: string[] }[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const line of block[1]!.replace(/\n$/, '').split('\n')) {
      if (line.startsWith('$ ')) examples.push({ command: line.slice(2), expected: [] });
      else examples.at(-1)?.expected.push(line);
    }
  }
  return examples;
}

/** A regular expression for expected output: `…` = anything; numbers, spacing and table rules flexible. */
export function outputPattern(expected: readonly string[]): RegExp {
  const line = (text: string) =>
    text
      .trimEnd()
      .split('…')
      .map((part) =>
        part
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/\d+(?:\\\.\d+)?/g, '\\d+(?:\\.\\d+)?')
          .replace(/ +/g, ' +')
          .replace(/-{2,}/g, '-+'),
      )
      .join('.*');
  const body = expected.map((l) => (l === '…' ? '(?:[^\\n]*\\n)*?' : `${line(l)}\\n`)).join('');
  return new RegExp(`^${body}$`);
}

describe('docs/CLI.md examples', () => {
  const background: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'parley-docs-'));

  after(async () => {
    for (const child of background) if (child.exitCode === null) child.kill('SIGINT');
    await Promise.all(background.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the page has runnable examples, and the patterns can fail', () => {
    const examples = examplesOf(readFileSync(PAGE, 'utf8'));
    assert.ok(examples.length >= 15, `only ${examples.length} examples`);
    assert.ok(outputPattern(['a  1.5 MiB  …', '…', 'end']).test('a 2.25 MiB x y\nmore\nend\n'));
    assert.ok(!outputPattern(['NOT_FOUND: x']).test('OK\n'));
    assert.ok(!outputPattern(['3']).test('3\n4\n'));
  });

  it('every example runs as shown', async () => {
    const base = await freePortBase(PORTS);
    const mapPorts = (text: string) =>
      text.replace(/\b74(0[1-9]|1\d|20)\b/g, (_, n: string) => String(base + Number(n) - 1));
    const env: Record<string, string> = {};
    for (const { command, expected } of examplesOf(readFileSync(PAGE, 'utf8'))) {
      const shown = `$ ${command}`;
      const want = expected.map(mapPorts);
      const cat = /^cat (\S+)$/.exec(command);
      if (cat) {
        writeFileSync(join(dir, cat[1]!), `${want.join('\n')}\n`);
        continue;
      }
      const chmod = /^chmod ([0-7]{3,4}) (\S+)$/.exec(command);
      if (chmod) {
        chmodSync(join(dir, chmod[2]!), Number.parseInt(chmod[1]!, 8));
        continue;
      }
      const unset = /^unset (\w+)$/.exec(command);
      if (unset) {
        delete env[unset[1]!];
        continue;
      }
      const exported = /^export (\w+)=(\S+)$/.exec(command);
      if (exported) {
        env[exported[1]!] = mapPorts(exported[2]!);
        continue;
      }
      const keepRunning = command.endsWith(' &');
      let args = words(mapPorts(command.replace(/ &$/, '')));
      assert.deepEqual(args.slice(0, 2), ['npx', 'parley'], `${shown}: examples run the parley command`);
      args = args.slice(2);
      if (args[0] === 'up' && !args.includes('--port-base')) args.push('--port-base', String(base));
      const child = spawn(process.execPath, [PARLEY_BIN, ...args], {
        cwd: dir,
        env: cliEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const pattern = outputPattern(want);
      if (keepRunning) {
        background.push(child);
        const out = await outputMatching(child, pattern, 30_000);
        assert.match(out, pattern, `${shown} printed:\n${out}`);
        continue;
      }
      const [out, code] = await completion(child, 30_000);
      assert.match(out, pattern, `${shown} printed:\n${out}`);
      const failure = /^[A-Z_]+: /.test(want[0] ?? '');
      assert.equal(code, failure ? 1 : 0, `${shown} exit code; output:\n${out}`);
    }
  });
});

/** Splits a shell command line into words ('single quotes' only, as the page uses). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function collect(child: ChildProcess, onLine: (all: string) => void): () => string {
  let all = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      all += `${line.trimEnd()}\n`;
      onLine(all);
    });
  }
  return () => all;
}

/** Output and exit code of a command that finishes. */
function completion(child: ChildProcess, timeoutMs: number): Promise<[string, number | null]> {
  return new Promise((resolve, reject) => {
    const output = collect(child, () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not finish in ${timeoutMs} ms; output:\n${output()}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve([output(), code]);
    });
  });
}

/** Resolves with the output of a long-running command once it matches (or what it printed by the deadline). */
function outputMatching(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(output()), timeoutMs);
    const output = collect(child, (all) => {
      if (pattern.test(all)) {
        clearTimeout(timer);
        resolve(all);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(output());
    });
  });
}
