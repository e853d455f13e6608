import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../base/testing/fake-clock.js';
import { KvStateMachine } from '../../kv/kv-state-machine.js';
import { ok } from '../../kv/testing/kv-test-helpers.js';
import { ParleyError } from '../../wire/parley-error.js';
import { WatchSessions } from './watch-sessions.js';

const put = (sm: KvStateMachine, key: string) => ok(sm, { type: 'put', key, value: 'v' });

function fixture() {
  const sm = new KvStateMachine();
  const clock = new FakeClock();
  const sessions = new WatchSessions(sm.watches, 30_000, clock);
  return { sm, clock, sessions };
}

describe('watch sessions belong to their creator', () => {
  it('a poll from another node is PERMISSION_DENIED and takes nothing; the owner gets every event', async () => {
    const { sm, sessions } = fixture();
    const token = sessions.create({ range: { prefix: 'k/' } }, 'alice');
    for (let i = 0; i < 5; i++) put(sm, `k/${i}`);
    await assert.rejects(sessions.poll(token, 'mallory', 0), (e: unknown) => ParleyError.is(e, 'PERMISSION_DENIED'));
    assert.equal(sessions.cancel(token, 'mallory'), false);
    const got = await sessions.poll(token, 'alice', 0);
    assert.deepEqual(
      got.events.map((e) => Buffer.from(e.kv.key).toString()),
      ['k/0', 'k/1', 'k/2', 'k/3', 'k/4'],
    );
    sessions.close();
  });

  it('a guessed or altered token is NOT_FOUND, even for the owner', async () => {
    const { sm, sessions } = fixture();
    const token = sessions.create({ range: { prefix: 'k/' } }, 'alice');
    put(sm, 'k/1');
    const [incarnation, id, secret] = token.split('.') as [string, string, string];
    assert.equal(secret.length, 32, '128-bit secret');
    const flipped = (secret[0] === '0' ? '1' : '0') + secret.slice(1);
    for (const guess of [
      `${incarnation}.${id}`,
      `${incarnation}.${id}.${flipped}`,
      `${incarnation}.${id}.${secret.slice(2)}`,
      `${incarnation}.${Number(id) + 1}.${secret}`,
      `ffffffff.${id}.${secret}`,
      `${token}.x`,
      42,
    ]) {
      for (const who of ['alice', 'mallory']) {
        await assert.rejects(
          sessions.poll(guess, who, 0),
          (e: unknown) => ParleyError.is(e, 'NOT_FOUND'),
          `${String(guess)} as ${who}`,
        );
      }
    }
    assert.equal((await sessions.poll(token, 'alice', 0)).events.length, 1, 'nothing was taken');
    sessions.close();
  });

  it('the owner can cancel; an idle session is collected', async () => {
    const { clock, sessions } = fixture();
    const a = sessions.create({ range: { prefix: 'k/' } }, 'alice');
    assert.equal(sessions.cancel(a, 'alice'), true);
    await assert.rejects(sessions.poll(a, 'alice', 0), (e: unknown) => ParleyError.is(e, 'NOT_FOUND'));
    const b = sessions.create({ range: { prefix: 'k/' } }, 'alice');
    clock.advance(60_000);
    await assert.rejects(sessions.poll(b, 'alice', 0), (e: unknown) => ParleyError.is(e, 'NOT_FOUND'));
    sessions.close();
  });

  it('a caller holds at most maxWatchesPerCaller watches: one more is RESOURCE_EXHAUSTED, a cancel frees a slot', () => {
    const sm = new KvStateMachine();
    const sessions = new WatchSessions(sm.watches, 30_000, new FakeClock(), 2);
    const a = sessions.create({ range: { prefix: 'k/' } }, 'alice');
    sessions.create({ range: { prefix: 'k/' } }, 'alice');
    assert.throws(
      () => sessions.create({ range: { prefix: 'k/' } }, 'alice'),
      (e: unknown) => ParleyError.is(e, 'RESOURCE_EXHAUSTED') && /maxWatchesPerCaller/.test(e.message),
    );
    // Per caller: another one still may.
    sessions.create({ range: { prefix: 'k/' } }, 'bob');
    assert.equal(sessions.cancel(a, 'alice'), true);
    sessions.create({ range: { prefix: 'k/' } }, 'alice');
    sessions.close();
  });
});
