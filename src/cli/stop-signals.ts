/**
 * Resolves on the first SIGINT or SIGTERM. Later signals are absorbed (and reported) instead of
 * killing the process halfway through a graceful stop: Ctrl-C reaches a whole process group,
 * and npm forwards signals too, so one stop request often arrives several times.
 */
export function untilStopSignal(onRepeat?: (signal: string) => void): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) {
        onRepeat?.(signal);
        return;
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
