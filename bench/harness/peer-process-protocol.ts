/**
 * Messages between the benchmark orchestrator and a peer child process (one JSON value per line).
 * Child → orchestrator lines start with MARKER so that whatever a library logs to stdout is ignored.
 */
export const MARKER = '@@bench ';

export type ChildMessage =
  | { type: 'ready'; address: string; description: string }
  | { type: 'failed'; unavailable: boolean; message: string }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

export interface ChildCommand {
  id: number;
  cmd: string;
  args?: Record<string, number>;
}
