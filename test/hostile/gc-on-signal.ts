/**
 * Preloaded (`node --expose-gc --import …/gc-on-signal.js`) into the live processes of the
 * hostile tests: on SIGUSR2 the process runs a full GC and writes `parley-test: gc done` to stderr.
 * An idle process may keep collectable garbage for minutes; this lets a test tell memory that is
 * still held from memory that is merely not collected yet. Test-only: the shipped CLI has no such hook.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stderr.write('parley-test: gc done\n');
});
