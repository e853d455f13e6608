#!/usr/bin/env node
// The process entry of the parley command (bin/parley imports it; `parley up` spawns it for its members).
import { main } from './main.js';

// A closed stdout/stderr (`parley kv range | head`, or a supervisor that died) is not an error of the
// command: stop writing instead of crashing with EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

process.exitCode = await main(process.argv.slice(2));
