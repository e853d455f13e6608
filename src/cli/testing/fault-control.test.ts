import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type FaultAck, faultControlFromEnv, watchFaultFile, writeAtomically } from './fault-control.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-fault-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function ackOf(path: string, version: number): Promise<FaultAck> {
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      const ack = JSON.parse(readFileSync(`${path}.ack`, 'utf8')) as FaultAck;
      if (ack.version === version) return ack;
    } catch {
      // not written yet
    }
    if (Date.now() > end) throw new Error(`no acknowledgement of version ${version}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fault control file (PARLEY_FAULT_FILE)', () => {
  it('is off unless the variable names a file', () => {
    assert.equal(faultControlFromEnv({}), undefined);
    assert.equal(faultControlFromEnv({ PARLEY_FAULT_FILE: '' }), undefined);
  });

  it('applies each new version of the file and acknowledges it', async () => {
    const path = join(dir, 'a.json');
    writeAtomically(path, JSON.stringify({ version: 1, rules: [{ peer: 'n2', drop: 1 }] }));
    const control = watchFaultFile(path);
    try {
      assert.deepEqual(await ackOf(path, 1), { version: 1, ok: true });
      assert.deepEqual(control.injector.rules(), [{ peer: 'n2', drop: 1, delayMs: 0 }]);
      writeAtomically(path, JSON.stringify({ version: 2, rules: [{ peer: 'n3', delayMs: 50 }] }));
      assert.deepEqual(await ackOf(path, 2), { version: 2, ok: true });
      assert.deepEqual(control.injector.rules(), [{ peer: 'n3', drop: 0, delayMs: 50 }]);
      writeAtomically(path, JSON.stringify({ version: 3, rules: [{ peer: 'n3', drop: 7 }] }));
      const refused = await ackOf(path, 3);
      assert.equal(refused.ok, false);
      assert.match(refused.error ?? '', /probability/);
      assert.deepEqual(
        control.injector.rules(),
        [{ peer: 'n3', drop: 0, delayMs: 50 }],
        'a bad file keeps the old rules',
      );
    } finally {
      control.stop();
    }
  });
});
