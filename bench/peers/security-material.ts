/**
 * The credentials of the security benchmark's systems, made once by the orchestrator and read by every server and
 * client process: Ed25519 node keys, a cluster secret, and a CA with one certificate per node id (openssl, as the
 * CLI tests make them). The orchestrator writes them to a JSON file in a temporary directory and names it in
 * $PARLEY_SECBENCH_MATERIAL, which the child processes inherit.
 *
 * Node ids are fixed: 'bench-server', 'bench-client' (the closed-loop client) and 'bench-hs' (the fresh clients of
 * the handshake series, made one at a time). Each id has its own key and certificate, because a node proven by key
 * or certificate must claim exactly the name it proved.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateNodeKeys } from '../../src/index.js';
import { makeTestPki } from '../../src/transport/testing/test-pki.js';

export const MATERIAL_ENV = 'PARLEY_SECBENCH_MATERIAL';
export const NODE_IDS = ['bench-server', 'bench-client', 'bench-hs'] as const;
export type BenchNodeId = (typeof NODE_IDS)[number];

export interface SecurityMaterial {
  secret: string;
  keys: Record<BenchNodeId, { secretKey: string; publicKey: string }>;
  ca: string;
  certs: Record<BenchNodeId, { cert: string; key: string }>;
}

/** Makes the material in a fresh temporary directory and points $PARLEY_SECBENCH_MATERIAL at it. */
export function makeSecurityMaterial(): { material: SecurityMaterial; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-secbench-'));
  makeTestPki(dir, NODE_IDS);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  const material: SecurityMaterial = {
    secret: randomBytes(32).toString('base64'),
    keys: Object.fromEntries(NODE_IDS.map((id) => [id, generateNodeKeys()])) as SecurityMaterial['keys'],
    ca: read('ca.crt'),
    certs: Object.fromEntries(
      NODE_IDS.map((id) => [id, { cert: read(`${id}.crt`), key: read(`${id}.key`) }]),
    ) as SecurityMaterial['certs'],
  };
  const file = join(dir, 'material.json');
  writeFileSync(file, JSON.stringify(material), { mode: 0o600 });
  process.env[MATERIAL_ENV] = file;
  return { material, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** In a child process: the material the orchestrator made. */
export function loadSecurityMaterial(): SecurityMaterial {
  const file = process.env[MATERIAL_ENV];
  if (!file) throw new Error(`the secured Parley systems need ${MATERIAL_ENV} (run them through the security bench)`);
  return JSON.parse(readFileSync(file, 'utf8')) as SecurityMaterial;
}
