// `npm run sim`: the raft simulator (src/raft/sim/main.ts), or with --queues the queue
// simulation's entry (test/queue-sim/main.ts: the raft layer may not import the queue layer,
// and src/queue/ stays free of process and worker-thread access). Both read process.argv
// themselves (the queue entry skips --queues).
if (process.argv.includes('--queues')) await import('../dist/test/queue-sim/main.js');
else await import('../dist/src/raft/sim/main.js');
