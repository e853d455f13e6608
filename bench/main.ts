/**
 * Benchmark entry point: `npm run bench -- <name> [args]` loads bench/<name>.ts and runs it.
 * Each benchmark module exports `run(args: string[]): Promise<void>` and prints its own table.
 */
const NAMES = ['rpc', 'events', 'raft', 'kv', 'kv-path', 'traffic', 'security', 'queue'] as const;

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || !(NAMES as readonly string[]).includes(name)) {
    console.error(`usage: npm run bench -- <${NAMES.join('|')}> [options]`);
    process.exit(2);
  }
  let mod: { run(args: string[]): Promise<void> };
  try {
    mod = await import(`./${name}.js`);
  } catch (err) {
    console.error(`benchmark '${name}' is not available: ${(err as Error).message}`);
    process.exit(2);
  }
  await mod.run(args);
}

await main();
