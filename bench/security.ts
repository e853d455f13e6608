/**
 * Security benchmark (issue 11 §5): `npm run bench -- security [--quick] [--rounds N] [--cell-ms MS]`
 *
 * Part 1, crypto (bench/security-crypto.ts): per-message AEAD cost at 64 B, 1 KiB and 64 KiB
 * (AES-256-GCM vs ChaCha20-Poly1305, with a memcpy floor), sealed batches, handshake crypto cost and
 * one small message's seal + open step by step through node:crypto. About half a minute by default;
 * `--quick` (CI size, also run by bench/security-crypto.test.ts) a few seconds.
 * The default full run (both parts) takes about three minutes on a quiet machine; every part prints
 * a progress line per cell on stderr.
 * Part 2, RPC (bench/security-rpc.ts): echo throughput, latency and CPU per call with authentication,
 * authorization and AEAD vs plaintext Parley vs Parley over TLS, and the cost of a handshake.
 * `--part rpc|crypto` runs one part; the RPC part's flags are listed in bench/security-rpc.ts.
 */
import { availableParallelism, cpus } from 'node:os';
import { formatLoad } from './harness/run-header.js';
import {
  type CryptoBenchOptions,
  DEFAULT_CRYPTO_OPTIONS,
  QUICK_CRYPTO_OPTIONS,
  runCryptoBench,
} from './security-crypto.js';
import { runSecurityRpc, splitSecurityArgs } from './security-rpc.js';

/** The crypto part's options from its flags: `--quick` picks the CI-sized defaults; `--rounds` and `--cell-ms` override. */
export function parseCryptoArgs(args: string[]): CryptoBenchOptions {
  let o: CryptoBenchOptions = args.includes('--quick') ? QUICK_CRYPTO_OPTIONS : DEFAULT_CRYPTO_OPTIONS;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') continue;
    if (args[i] === '--rounds') o = { ...o, rounds: Math.max(1, Number(args[++i]) || 1) };
    else if (args[i] === '--cell-ms') o = { ...o, cellMs: Math.max(10, Number(args[++i]) || o.cellMs) };
    else throw new Error(`unknown option '${args[i]}'; use --quick, --rounds N and/or --cell-ms MS`);
  }
  return o;
}

export async function run(args: string[]): Promise<void> {
  const { part, cryptoArgs, rpcArgs } = splitSecurityArgs(args);
  const cryptoOptions = parseCryptoArgs(cryptoArgs);
  console.log(`security benchmark — ${new Date().toISOString()}`);
  console.log(
    `machine: ${availableParallelism()} cpus, ${cpus()[0]?.model ?? 'unknown'}; node ${process.version} (OpenSSL ${process.versions.openssl}); load average ${formatLoad()}`,
  );
  console.log(`command: npm run bench -- security ${process.argv.slice(3).join(' ')}`.trimEnd());
  if (part !== 'rpc') {
    await runCryptoBench(cryptoOptions);
  }
  if (part !== 'crypto') await runSecurityRpc(rpcArgs);
}
