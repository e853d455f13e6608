/** `npm run bench -- security` hands each flag to the part that reads it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitSecurityArgs } from './security-rpc.js';

describe('security benchmark arguments', () => {
  it('--part picks a part; --quick shortens both; --rounds goes to both; --cell-ms to crypto; the rest to rpc', () => {
    assert.deepEqual(
      splitSecurityArgs(['--part', 'rpc', '--quick', '--rounds', '3', '--cell-ms', '50', '--concurrency', '100']),
      {
        part: 'rpc',
        cryptoArgs: ['--quick', '--rounds', '3', '--cell-ms', '50'],
        rpcArgs: ['--short', '--rounds', '3', '--concurrency', '100'],
      },
    );
    assert.equal(splitSecurityArgs([]).part, 'all');
    assert.throws(() => splitSecurityArgs(['--part', 'both']), /--part expects rpc or crypto/);
  });
});
