// `npm run sim`: the raft simulator (src/raft/sim/main.ts), or with --queues the queue
// simulation (src/queue/sim/main.ts), which the raft layer may not import. Both read
// process.argv themselves (the queue entry ignores --queues).
if (process.argv.includes('--queues')) await import('../dist/src/queue/sim/main.js');
else await import('../dist/src/raft/sim/main.js');
