import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Test-only: certificates made with the openssl command in a directory, for the TLS, mutual-TLS
 * and certificate-identity tests of every layer. Keys are P-256, certificates valid two days,
 * leaves usable for both server and client authentication.
 */

export interface TestKeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  /** The CA certificate (PEM) the leaves chain to. */
  readonly ca: string;
  /** The certificate and key of a leaf made in the directory. */
  pair(name: string): TestKeyPair;
}

/** Why TLS tests skip on a machine without openssl. */
export const NO_OPENSSL = 'openssl not found on this machine: the TLS tests need it to make certificates';

/** True when the openssl command is there (the TLS tests skip without it). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A self-signed CA: `<name>.crt` and `<name>.key` in `dir`. */
export function makeTestCa(dir: string, name: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

/**
 * A leaf `<name>.crt` / `<name>.key` with CN = name, signed by the CA `signer` made in the same
 * directory; `altNames` is its subjectAltName (default `IP:127.0.0.1`: no DNS or URI name, so under
 * certificate identity the CN is the principal).
 */
export function makeTestLeaf(dir: string, name: string, signer: string, altNames = 'IP:127.0.0.1'): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(dir, 'req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${signer}.crt`,
    '-CAkey',
    `${signer}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

/** Reads a leaf made in `dir`. */
export function readTestPair(dir: string, name: string): TestKeyPair {
  return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

/**
 * Makes, in `dir`, a CA (`ca.crt`) and for each name a leaf `<name>.crt` / `<name>.key` it signs,
 * valid for 127.0.0.1; `altNames(name)` chooses a leaf's subjectAltName (default `IP:127.0.0.1`
 * alone, so the CN is the name the certificate proves).
 */
export function makeTestPki(
  dir: string,
  names: readonly string[],
  altNames: (name: string) => string = () => 'IP:127.0.0.1',
): TestPki {
  makeTestCa(dir, 'ca');
  for (const name of names) makeTestLeaf(dir, name, 'ca', altNames(name));
  return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), pair: (name) => readTestPair(dir, name) };
}
