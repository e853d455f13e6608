/** The command that replays one simulated run exactly (printed with every failure). */
export function replayCommand(seed: number, steps: number, nodes?: number, mutation?: string): string {
  let cmd = `npm run sim -- --seed ${seed} --steps ${steps}`;
  if (nodes !== undefined) cmd += ` --nodes ${nodes}`;
  if (mutation !== undefined) cmd += ` --mutation ${mutation}`;
  return `${cmd} --verbose`;
}
