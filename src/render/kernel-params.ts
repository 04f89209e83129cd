/**
 * Split a kernel command line into the parameters the Linux kernel sees (its `next_arg` rules):
 * spaces and tabs separate words except inside double quotes, and the quotes themselves are not part of
 * the value (`a="b c"` and `"a=b c"` are both the parameter `a` with value `b c`). CR, LF and NUL are
 * not separators here, so the per-format filter still sees and rejects them.
 */
export function splitKernelParams(cmdline: string): string[] {
  const params: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (const ch of cmdline) {
    if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && (ch === ' ' || ch === '\t')) {
      if (inWord) params.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) params.push(word);
  return params;
}

/**
 * Join parameters into one command line for loaders that pass text through (iPXE, PXELINUX): a value
 * containing a space is double-quoted (`name="a b"`), which the kernel reads back as one parameter.
 */
export function joinKernelParams(params: readonly string[]): string {
  return params
    .map((p) => {
      if (!/[ \t]/.test(p)) return p;
      const eq = p.indexOf('=');
      return eq > 0 && !/[ \t]/.test(p.slice(0, eq)) ? `${p.slice(0, eq + 1)}"${p.slice(eq + 1)}"` : `"${p}"`;
    })
    .join(' ');
}
