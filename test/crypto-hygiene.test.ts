/**
 * Crypto hygiene: a lint over src/ for the mistakes that break authenticated encryption quietly.
 *
 * - `createCipher(` / `createDecipher(` (password-derived key, no IV: removed from Node);
 * - CBC or ECB modes named in a string (unauthenticated, padding oracles, patterns);
 * - an AEAD cipher or decipher made without `authTagLength: 16` (Node 20 accepts a 4-byte GCM tag
 *   on decryption unless it is pinned, DEP0182), or with another tag length;
 * - a cipher made outside the one crypto module (src/base/aead.ts);
 * - a fixed IV: a literal or freshly built constant buffer passed as the IV, or a constant named
 *   IV/NONCE built from literal bytes;
 * - `Math.random` near key, nonce, IV, salt, secret or token code (not a CSPRNG).
 *
 * The lint is text-based (a few regular expressions and a parenthesis matcher), so it is tested
 * on planted bad lines as well as run over the tree: each rule must fire on its sample.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const root = join(repo, 'src');
/** The one module allowed to make ciphers. */
const CRYPTO_MODULE = 'src/base/aead.ts';

type Rule = 'no-createCipher' | 'no-cbc-ecb' | 'auth-tag-length' | 'one-crypto-module' | 'fixed-iv' | 'math-random';

interface Finding {
  readonly rule: Rule;
  readonly line: number;
  readonly text: string;
}

/** Lines (1-based) whose Math.random is this close to key material count as "near". */
const NEAR_LINES = 3;
const KEY_WORDS =
  /\b(?:nonce|iv|ivs|salt|secret|secrets|cipher|decipher|psk|token|tokens|keyPair|privateKey|sessionKey|aead|hkdf)\b/i;
const CIPHER_CALL = /\bcreate(?:Cipheriv|Decipheriv)\s*\(/g;

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The top-level arguments of the call whose '(' is at `open`, as source text (strings and nesting respected). */
function callArguments(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        args.push(text.slice(start, i).trim());
        return args.filter((a) => a.length > 0);
      }
    } else if (c === ',' && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return args;
}

/** A literal or a buffer built from constants in place: the same bytes on every call. */
const CONSTANT_BYTES =
  /^(?:'[^']*'|"[^"]*"|`[^`$]*`|Buffer\.(?:alloc|allocUnsafe|from)\s*\(|new\s+(?:Uint8Array|Buffer)\s*\(|\[)/;

export function lintCrypto(text: string, path: string): Finding[] {
  const findings: Finding[] = [];
  const lines = text.split('\n');
  const add = (rule: Rule, line: number) => findings.push({ rule, line, text: lines[line - 1]!.trim() });

  for (const m of text.matchAll(/\bcreate(?:De)?cipher\s*\(/gi)) add('no-createCipher', lineOf(text, m.index));
  for (const m of text.matchAll(/(['"`])[^'"`\n]*\b(?:cbc|ecb)\b[^'"`\n]*\1/gi))
    add('no-cbc-ecb', lineOf(text, m.index));
  for (const m of text.matchAll(/authTagLength\s*:\s*([A-Za-z_0-9]+)/g)) {
    if (m[1] !== '16' && m[1] !== 'TAG_BYTES') add('auth-tag-length', lineOf(text, m.index));
  }
  for (const m of text.matchAll(CIPHER_CALL)) {
    const line = lineOf(text, m.index);
    if (path !== CRYPTO_MODULE) add('one-crypto-module', line);
    const args = callArguments(text, m.index + m[0].length - 1);
    const algorithm = args[0] ?? '';
    const authenticated = !/^['"`]/.test(algorithm) || /gcm|ccm|ocb|poly1305/i.test(algorithm);
    if (authenticated && !/^\{[^}]*\bauthTagLength\s*:\s*(?:16|TAG_BYTES)\b/.test(args[3] ?? '')) {
      add('auth-tag-length', line);
    }
    if (CONSTANT_BYTES.test(args[2] ?? '')) add('fixed-iv', line);
  }
  for (const m of text.matchAll(
    /\b(?:const|let|var|readonly)\s+(?:[A-Z0-9]+_)*(?:IV|NONCE)(?:_[A-Z0-9]+)*\s*(?::[^=]+)?=\s*(?:'|"|`|Buffer\.(?:alloc|from)\s*\(|new\s+(?:Uint8Array|Buffer)\s*\(|\[)/g,
  )) {
    add('fixed-iv', lineOf(text, m.index));
  }
  const TAG_CONSTANT = /\bTAG_BYTES\s*=\s*(\d+)/.exec(text);
  if (TAG_CONSTANT && TAG_CONSTANT[1] !== '16') add('auth-tag-length', lineOf(text, TAG_CONSTANT.index));
  lines.forEach((lineText, i) => {
    if (!/\bMath\.random\b/.test(lineText)) return;
    const near = lines.slice(Math.max(0, i - NEAR_LINES), i + NEAR_LINES + 1).join('\n');
    if (KEY_WORDS.test(near) || /\bkey\s*[=:]/.test(lineText)) add('math-random', i + 1);
  });
  return findings;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The rules that fired, sorted (one entry per finding). */
const rulesOf = (text: string, path = 'src/sample.ts') =>
  lintCrypto(text, path)
    .map((f) => f.rule)
    .sort();

describe('crypto hygiene', () => {
  it('src/ has no CBC/ECB, createCipher, unpinned or short tags, fixed IVs, stray ciphers or Math.random near keys', () => {
    const files = sources(root);
    assert.ok(files.length > 100, `expected the sources under ${root}`);
    const findings = files.flatMap((file) => {
      const path = relative(repo, file);
      return lintCrypto(readFileSync(file, 'utf8'), path).map((f) => `${path}:${f.line} [${f.rule}] ${f.text}`);
    });
    assert.deepEqual(findings, []);
  });

  it('the crypto module itself passes, and fails once a planted bad line is in it', () => {
    const aead = readFileSync(join(repo, CRYPTO_MODULE), 'utf8');
    assert.deepEqual(rulesOf(aead, CRYPTO_MODULE), []);
    assert.ok(aead.includes('createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES })'));
    const unpinned = aead.replaceAll(
      'createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_BYTES })',
      'createDecipheriv(algorithm, key, nonce)',
    );
    assert.deepEqual(rulesOf(unpinned, CRYPTO_MODULE), ['auth-tag-length', 'auth-tag-length']);
    const shortTag = aead.replace('export const TAG_BYTES = 16;', 'export const TAG_BYTES = 12;');
    assert.deepEqual(rulesOf(shortTag, CRYPTO_MODULE), ['auth-tag-length']);
  });

  const planted: [string, Rule[]][] = [
    ["const c = crypto.createCipher('aes-256-gcm', password);", ['no-createCipher']],
    ['const d = createDecipher(alg, password);', ['no-createCipher']],
    ["const c = createCipheriv('aes-256-cbc', key, iv);", ['no-cbc-ecb', 'one-crypto-module']],
    ["const mode = 'AES-128-ECB';", ['no-cbc-ecb']],
    ["const c = createDecipheriv('aes-256-gcm', key, iv);", ['auth-tag-length', 'one-crypto-module']],
    [
      "const c = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 4 });",
      ['auth-tag-length', 'auth-tag-length', 'one-crypto-module'],
    ],
    ['const c = createCipheriv(algorithm, key, iv, {});', ['auth-tag-length', 'one-crypto-module']],
    [
      "const c = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });",
      ['fixed-iv', 'one-crypto-module'],
    ],
    [
      "const c = createCipheriv('aes-256-gcm', key, '000000000000', { authTagLength: 16 });",
      ['fixed-iv', 'one-crypto-module'],
    ],
    ["const FIXED_IV = Buffer.from('0123456789ab');", ['fixed-iv']],
    ['const NONCE: Uint8Array = new Uint8Array(12);', ['fixed-iv']],
    ['let STATIC_IV_BYTES = [0, 0, 0, 0];', ['fixed-iv']],
    ['const nonce = Math.floor(Math.random() * 2 ** 32);', ['math-random']],
    ['const key = Math.random().toString(36);', ['math-random']],
    ['const salt = makeSalt();\nconst pick = Math.random();', ['math-random']],
  ];
  for (const [sample, expected] of planted) {
    it(`a planted bad line is found: ${sample.split('\n').at(-1)}`, () => {
      assert.deepEqual(rulesOf(sample), expected);
    });
  }

  it('good lines pass', () => {
    for (const good of [
      'const jitter = options.random ?? Math.random;',
      "const codec = codecByName('msgpack');",
      '// CBC is never used: see aead.ts',
      'private readonly nonce = new Uint8Array(NONCE_BYTES);',
      "const UNIVERSE: string[] = [''];",
    ]) {
      assert.deepEqual(rulesOf(good), [], good);
    }
    assert.deepEqual(
      rulesOf(
        "const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });",
        CRYPTO_MODULE,
      ),
      [],
    );
  });
});
