/**
 * Resolves on the first stop request: SIGINT, SIGTERM, or, for a process that `parley up` started,
 * the death of its parent. Later signals are absorbed instead of killing the process halfway
 * through a graceful stop: Ctrl-C reaches a whole process group, and npm forwards signals too, so
 * one stop request often arrives several times.
 *
 * The parent's death is seen through the IPC channel a supervisor opens (`stdio: [..., 'ipc']`):
 * the channel closes when the parent exits for any reason, `kill -9` included, so a child never
 * outlives its supervisor holding ports and data folders.
 */
export function untilStopSignal(onRepeat?: (signal: string) => void): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: string) => {
      if (received) {
        onRepeat?.(signal);
        return;
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    if (process.channel) {
      process.channel.unref(); // the channel alone must not keep the process alive
      process.once('disconnect', () => handler('parent exited'));
    }
  });
}
