/**
 * Polling for tests that watch real asynchronous work (sockets, processes): the one
 * "wait until this holds" helper of the code base. Tests of pure state machines use a
 * `FakeClock` instead and never poll.
 */

/** Polls `condition` every `intervalMs` (5) until it holds; throws naming `what` after `timeoutMs` (5 s). */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs = 5000,
  what = 'condition',
  intervalMs = 5,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
