import { Packr } from 'msgpackr';
const root = process.argv[2];
const { KvStateMachine } = await import(`${root}/dist/src/kv/kv-state-machine.js`);
const { commandToPropose } = await import(`${root}/dist/src/kv/command-codec.js`);
const { validateCommand } = await import(`${root}/dist/src/kv/commands.js`);
const { DEFAULT_LIMITS } = await import(`${root}/dist/src/kv/limits.js`);
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const plain = (x) => { if (x instanceof Uint8Array) return x; if (Array.isArray(x)) return x.map(plain); if (typeof x === 'object' && x !== null) { const o = {}; for (const [k, v] of Object.entries(x)) if (v !== undefined) o[k] = plain(v); return o; } return x; };
const oldEncode = (c) => new Uint8Array(packr.pack(plain(c)));
const value = new Uint8Array(100).fill(97);
const N = 200000;
const params = (i) => ({ key: `bench/k${String(i % 1000).padStart(6, '0')}`, value, clientId: `client-abcd/${i % 100}`, seq: Math.floor(i / 100) + 1 });
for (const mode of (process.env.MODES ?? 'old,new,old,new').split(',')) {
  const sm = new KvStateMachine();
  let t0 = process.cpuUsage();
  const encoded = [];
  for (let i = 0; i < N; i++) {
    const cmd = { ...params(i), type: 'put' };
    encoded.push(mode === 'old' ? oldEncode(cmd) : commandToPropose(cmd, sm.limits));
  }
  const enc = process.cpuUsage(t0);
  t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) { const o = sm.apply(encoded[i]); if (!o.ok) throw o.error; }
  const app = process.cpuUsage(t0);
  const us = (u) => ((u.user + u.system) / N).toFixed(2);
  console.log(`${mode}: propose-side ${us(enc)} µs/put, apply ${us(app)} µs/put (bytes ${encoded[0].length})`);
}
