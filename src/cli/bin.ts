#!/usr/bin/env node
// The process entry of the parley command (bin/parley imports it; `parley up` spawns it for its members).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
