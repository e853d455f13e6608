import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../transport/logger.js';
import { ParleyError } from '../wire/parley-error.js';
import { checkListenSecurity, isLoopbackHost } from './listen-security.js';

describe('secure by default (the decision)', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST'])
      assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'example.com', '127.0.0.1.example.com'])
      assert.ok(!isLoopbackHost(h), h);
  });

  it('refuses an exposed listener without authentication, and only that', () => {
    const base = {
      nodeId: 'n',
      host: '0.0.0.0',
      port: 0,
      customTransport: false,
      auth: undefined,
      tls: undefined,
      insecure: false,
    };
    assert.throws(
      () => checkListenSecurity(base, silentLogger),
      (e: unknown) => ParleyError.is(e, 'FAILED_PRECONDITION'),
    );
    assert.throws(
      () => checkListenSecurity({ ...base, auth: { token: 't' } }, silentLogger),
      ParleyError,
      'a token authenticates nobody',
    );
    checkListenSecurity({ ...base, port: null }, silentLogger);
    checkListenSecurity({ ...base, customTransport: true }, silentLogger);
    checkListenSecurity({ ...base, host: '127.0.0.1' }, silentLogger);
    checkListenSecurity({ ...base, auth: { secret: 'x'.repeat(32) } }, silentLogger);
    checkListenSecurity({ ...base, auth: { trust: { a: 'PARLEY-PK-…' } } }, silentLogger);
    checkListenSecurity({ ...base, tls: { mutual: true } }, silentLogger);
    const lines: string[] = [];
    checkListenSecurity({ ...base, insecure: true }, { ...silentLogger, warn: (m: string) => void lines.push(m) });
    assert.equal(lines.length, 1);
  });
});
