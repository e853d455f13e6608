/**
 * Reads the declaration files (.d.ts) of the package and finds the types that a public signature
 * uses but that no package entry exports: a user could receive a value of such a type but could
 * not name it. Used by test/architecture.test.ts.
 *
 * Declaration files are regular enough to read with patterns: tsc writes one top-level statement
 * per unindented line, keeps only the imports that declarations use, and writes private members
 * without their types. Only names that their own module exports are required (a module's private
 * helper types are its own business).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

interface Ref {
  readonly file: string | null; // null: another package
  readonly name: string;
}
interface Module {
  readonly declarations: Map<string, string>; // name -> declaration text (overloads merged)
  readonly exportedHere: Set<string>;
  readonly imports: Map<string, Ref>; // local alias -> origin
  readonly reexports: Map<string, Ref>;
  readonly stars: string[];
}
export interface MissingExport {
  readonly type: string; // file#name
  readonly usedBy: string; // file#name
}

const IDENTIFIER = /[A-Za-z_$][\w$]*/g;

export function missingExports(root: string, entries: readonly string[], opaque: readonly string[]): MissingExport[] {
  const modules = new Map<string, Module>();
  const parse = (file: string): Module => {
    let m = modules.get(file);
    if (m) return m;
    const text = readFileSync(file, 'utf8');
    const target = (spec: string) =>
      spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.d.ts')) : null;
    const names = (list: string) =>
      list
        .split(',')
        .map((s) => s.trim().replace(/^type /, ''))
        .filter((s) => s.length > 0)
        .map((s) => {
          const [name, alias] = s.split(/\s+as\s+/) as [string, string | undefined];
          return { name, alias: alias ?? name };
        });
    m = { declarations: new Map(), exportedHere: new Set(), imports: new Map(), reexports: new Map(), stars: [] };
    for (const statement of text.split(/\n(?=[^\s}\])])/)) {
      let match: RegExpExecArray | null;
      if ((match = /^import (?:type )?\{([^}]*)\} from '([^']+)'/.exec(statement))) {
        for (const n of names(match[1]!)) m.imports.set(n.alias, { file: target(match[2]!), name: n.name });
      } else if ((match = /^export (?:type )?\{([^}]*)\} from '([^']+)'/.exec(statement))) {
        for (const n of names(match[1]!)) m.reexports.set(n.alias, { file: target(match[2]!), name: n.name });
      } else if ((match = /^export \* from '([^']+)'/.exec(statement))) {
        const to = target(match[1]!);
        if (to) m.stars.push(to);
      } else if ((match = /^export \{([^}]*)\};/.exec(statement))) {
        for (const n of names(match[1]!)) m.exportedHere.add(n.name);
      } else if (
        (match =
          /^(export )?(?:declare )?(?:abstract )?(?:class|interface|type|function|const|let|enum|namespace) ([A-Za-z_$][\w$]*)/.exec(
            statement,
          ))
      ) {
        const name = match[2]!;
        m.declarations.set(name, (m.declarations.get(name) ?? '') + statement);
        if (match[1]) m.exportedHere.add(name);
      }
    }
    modules.set(file, m);
    return m;
  };
  /** Where `name`, as seen from `file`, is declared. */
  const origin = (file: string | null, name: string, seen = new Set<string>()): Ref | null => {
    if (file === null) return { file: null, name };
    const key = `${file}#${name}`;
    if (seen.has(key) || !existsSync(file)) return null;
    seen.add(key);
    const m = parse(file);
    if (m.declarations.has(name)) return { file, name };
    const via = m.reexports.get(name) ?? m.imports.get(name);
    if (via) return origin(via.file, via.name, seen);
    for (const star of m.stars) {
      const found = origin(star, name, seen);
      if (found) return found;
    }
    return null;
  };
  const key = (r: Ref) => `${r.file === null ? '' : relative(root, r.file)}#${r.name}`;
  const exportsOf = (file: string, out: Map<string, Ref>, seen = new Set<string>()) => {
    if (seen.has(file)) return;
    seen.add(file);
    const m = parse(file);
    for (const name of m.exportedHere) {
      const o = origin(file, name);
      if (o) out.set(key(o), o);
    }
    for (const via of m.reexports.values()) {
      const o = origin(via.file, via.name);
      if (o) out.set(key(o), o);
    }
    for (const star of m.stars) exportsOf(star, out, seen);
  };

  const exported = new Map<string, Ref>();
  for (const entry of entries) exportsOf(resolve(root, entry), exported);
  const missing = new Map<string, string>();
  const visited = new Set<string>();
  const queue = [...exported.values()];
  while (queue.length > 0) {
    const declaration = queue.pop()!;
    const k = key(declaration);
    if (visited.has(k) || declaration.file === null) continue;
    visited.add(k);
    if (opaque.includes(k)) continue;
    const m = parse(declaration.file);
    const text = (m.declarations.get(declaration.name) ?? '').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const used: (Ref | null)[] = [];
    for (const match of text.matchAll(/import\("([^"]+)"\)\.([A-Za-z_$][\w$]*)/g)) {
      const spec = match[1]!;
      used.push(
        spec.startsWith('.')
          ? origin(resolve(dirname(declaration.file), spec.replace(/\.js$/, '.d.ts')), match[2]!)
          : null,
      );
    }
    for (const match of text.replace(/import\("[^"]+"\)\.[\w$]+/g, '').matchAll(IDENTIFIER)) {
      const id = match[0];
      if (id !== declaration.name && (m.imports.has(id) || m.declarations.has(id)))
        used.push(origin(declaration.file, id));
    }
    for (const ref of used) {
      if (ref === null || ref.file === null) continue;
      const refKey = key(ref);
      const ownModuleExportsIt = parse(ref.file).exportedHere.has(ref.name);
      if (ownModuleExportsIt && !exported.has(refKey) && !missing.has(refKey)) missing.set(refKey, k);
      queue.push(ref);
    }
  }
  return [...missing].map(([type, usedBy]) => ({ type, usedBy })).sort((a, b) => a.type.localeCompare(b.type));
}
