/**
 * A tiny interpreter for the subset of iPXE script the shipped templates use, to check what a machine
 * does when every fetch fails: which sleeps it takes, and whether the script ever runs off its end
 * (which ends the boot). `a || b` runs b when a fails, `a && b` when it succeeds (iPXE's command line).
 */

/** What a simulated machine did. */
export interface IpxeRun {
  sleeps: number[];
  fetches: string[];
  /** How the run stopped: out of patience (still retrying), exit/sanboot, booted, or fell off the end. */
  ended: 'patience' | 'exit' | 'boot' | 'end';
}

const FETCHES = new Set(['kernel', 'initrd', 'imgfetch', 'chain', 'boot']);

/** Run `script` where `fetchOk(cmd, args)` decides each fetch; a successful chain restarts the script (same text). */
export function simulate(script: string, options: { maxSleeps: number; fetchOk?: (cmd: string, args: string) => boolean }): IpxeRun {
  const lines = script.split('\n');
  const settings = new Map<string, string>();
  const run: IpxeRun = { sleeps: [], fetches: [], ended: 'patience' };
  const expand = (s: string) => s.replace(/\$\{([^}:]+)(?::[^}]+)?\}/g, (_, name: string) => settings.get(name) ?? '');
  const labelAt = (name: string) => {
    const i = lines.findIndex((l) => l.trim() === `:${name}`);
    if (i < 0) throw new Error(`goto to a missing label ${name}`);
    return i;
  };
  let pc = 0;
  for (let steps = 0; steps < 100_000; steps++) {
    if (run.sleeps.length >= options.maxSleeps) return run;
    if (pc >= lines.length) {
      run.ended = 'end';
      return run;
    }
    const line = lines[pc]!.trim();
    pc++;
    if (line === '' || line.startsWith('#') || line.startsWith(':')) continue;
    // Split into commands joined by || and &&, evaluated left to right.
    const parts = line.split(/\s+(\|\||&&)\s*/);
    let ok = true;
    let jumped = false;
    for (let i = 0; i < parts.length; i += 2) {
      const joiner = i === 0 ? '' : parts[i - 1];
      if ((joiner === '||' && ok) || (joiner === '&&' && !ok)) continue;
      const text = expand(parts[i]!.trim());
      if (text === '') {
        ok = true;
        continue;
      }
      const [cmd, ...rest] = text.split(/\s+/);
      const args = rest.join(' ');
      switch (cmd) {
        case 'echo':
        case 'set':
          if (cmd === 'set') settings.set(rest[0]!, rest.slice(1).join(' '));
          ok = true;
          break;
        case 'isset':
          ok = args !== '';
          break;
        case 'iseq':
          ok = rest[0] === rest[1];
          break;
        case 'inc':
          settings.set(rest[0]!, String(Number(settings.get(rest[0]!) ?? 0) + Number(rest[1] ?? 1)));
          ok = true;
          break;
        case 'sleep':
          run.sleeps.push(Number(rest[0]));
          ok = true;
          break;
        case 'goto':
          pc = labelAt(rest[0]!);
          jumped = true;
          break;
        case 'exit':
        case 'sanboot':
          run.ended = 'exit';
          return run;
        default:
          if (!FETCHES.has(cmd!)) throw new Error(`the simulator does not know the iPXE command "${cmd}"`);
          run.fetches.push(text);
          ok = options.fetchOk?.(cmd!, args) ?? false;
          if (ok && cmd === 'boot') {
            run.ended = 'boot';
            return run;
          }
          if (ok && cmd === 'chain') {
            pc = 0;
            jumped = true;
          }
      }
      if (jumped) break;
    }
  }
  throw new Error('the script never slept nor ended (a busy loop)');
}
