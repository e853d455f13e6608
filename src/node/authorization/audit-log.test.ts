import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../base/testing/fake-clock.js';
import { type AuditEntry, AuditLog, DENIAL_BUDGET, DENIAL_WINDOW_MS } from './audit-log.js';

const denial = (principal: string, target = "'billing.charge'") => ({
  event: 'denied' as const,
  principal,
  permission: 'call',
  target,
  code: 'PERMISSION_DENIED',
  reason: 'no rule allows it',
});

describe('audit log', () => {
  it('writes one line per identical denial per window, the next one counting what was suppressed', () => {
    const clock = new FakeClock();
    const lines: AuditEntry[] = [];
    const log = new AuditLog('n1', (e) => lines.push(e), clock);
    for (let i = 0; i < 1000; i++) log.denied(denial('mallory'));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.suppressed, undefined);
    assert.equal(lines[0]!.node, 'n1');
    clock.advance(DENIAL_WINDOW_MS);
    log.denied(denial('mallory'));
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.suppressed, 999);
  });

  it('caps denial lines per window overall, and says how many were dropped', () => {
    const clock = new FakeClock();
    const lines: AuditEntry[] = [];
    const log = new AuditLog('n1', (e) => lines.push(e), clock);
    for (let i = 0; i < 5000; i++) log.denied(denial(`p${i}`, `'a${i}.x'`)); // a flood of distinct targets
    assert.equal(lines.length, DENIAL_BUDGET);
    clock.advance(DENIAL_WINDOW_MS);
    log.denied(denial('late'));
    assert.equal(lines.length, DENIAL_BUDGET + 1);
    assert.equal(lines.at(-1)!.dropped, 5000 - DENIAL_BUDGET);
  });

  it('records policy and membership events unthrottled; a throwing sink never reaches the caller', () => {
    const clock = new FakeClock();
    const lines: AuditEntry[] = [];
    const log = new AuditLog('n1', (e) => lines.push(e), clock);
    for (let i = 0; i < 3; i++) log.record({ event: 'membership-changed', details: { i } });
    assert.equal(lines.length, 3);
    const broken = new AuditLog(
      'n1',
      () => {
        throw new Error('disk full');
      },
      clock,
    );
    broken.denied(denial('x'));
    broken.record({ event: 'policy-reloaded' });
  });
});
