import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../principal.js';
import { nodeIdMismatch } from './connection-auth.js';

const ops: Principal = { name: 'ops', groups: [], via: 'key', authenticated: true };
const trusted = new Set(['ops', 'n1', 'ops@n2']);

describe('the node-id rule', () => {
  it('a listening peer proven by key or certificate must claim exactly the name it proved', () => {
    assert.equal(nodeIdMismatch('ops', ops, trusted), undefined);
    assert.match(nodeIdMismatch('n1', ops, trusted) ?? '', /does not match the identity its key proves \('ops'\)/);
    assert.ok(nodeIdMismatch('ops@cli-1', ops, trusted, true), 'a listener may not take a client id');
    assert.ok(nodeIdMismatch('ops@cli-1', { ...ops, via: 'tls' }, trusted, true));
  });

  it('a client (not listening) may claim <name>@<suffix>, never a bare suffix, another name, or a trusted name', () => {
    assert.equal(nodeIdMismatch('ops@cli-4242', ops, trusted, false), undefined);
    assert.equal(nodeIdMismatch('ops@cli-4242', { ...ops, via: 'tls' }, trusted, false), undefined);
    assert.equal(nodeIdMismatch('ops', ops, trusted, false), undefined);
    for (const claimed of ['ops@', 'opsx@cli', 'n1@cli-1', 'cli-1', 'ops@n2']) {
      const why = nodeIdMismatch(claimed, ops, trusted, false);
      assert.ok(why, claimed);
      assert.match(why, /; a client that does not listen may also use 'ops@<suffix>'/);
    }
  });

  it('a principal proven by secret or token may not claim a name a trusted key owns', () => {
    const carol: Principal = { name: 'carol', groups: [], via: 'token', authenticated: true };
    assert.equal(nodeIdMismatch('cli-1', carol, trusted, false), undefined);
    assert.match(nodeIdMismatch('n1', carol, trusted, false) ?? '', /belongs to a trusted key/);
  });
});
