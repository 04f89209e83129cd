import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import type { Node } from '../../../src/core/node.js';
import { joinKernelParams, splitKernelParams } from '../../../src/render/kernel-params.js';
import type { Kind } from '../../../src/render/kinds.js';
import { testRenderer, testSnapshot } from '../../support/renderer.js';

// The kernel must receive the same parameters whichever loader booted it. These helpers model, from
// their C sources, the three steps between a rendered script and the kernel: how GRUB's script lexer
// splits the `linux` line into arguments, how GRUB joins those arguments into the command line
// (grub_create_loader_cmdline), and how Linux splits a command line into parameters (next_arg).
// iPXE splits its `kernel` line on whitespace only and joins the words with single spaces.

const server = { address: '10.9.0.1', httpPort: 5248 };
const mac = parseMac('52:54:00:00:00:01');

/** GRUB script words of one command line: '…' literal, "…" with \\-escapes and $var, bare \\x, bare $var; metacharacters fail. */
function grubWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  const expand = (i: number): [string, number] => {
    const braced = line[i + 1] === '{';
    const m = braced ? /^\$\{([A-Za-z0-9_?]+)\}/.exec(line.slice(i)) : /^\$([A-Za-z0-9_?]+)/.exec(line.slice(i));
    if (!m) throw new Error(`a bare $ in the GRUB line at ${i}: ${line}`);
    if (!(m[1]! in vars)) throw new Error(`GRUB would expand an unknown variable $${m[1]}: ${line}`);
    return [vars[m[1]!]!, i + m[0].length];
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`an unterminated single quote: ${line}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`an unterminated double quote: ${line}`);
        if (line[i] === '\\' && '$"\\'.includes(line[i + 1] ?? '')) {
          word += line[i + 1];
          i += 2;
        } else if (line[i] === '$') {
          const [v, next] = expand(i);
          word += v;
          i = next;
        } else word += line[i++];
      }
      i++;
    } else if (c === '\\') {
      word += line[i + 1] ?? '';
      inWord = true;
      i += 2;
    } else if (c === '$') {
      const [v, next] = expand(i);
      // An unquoted expansion is split on spaces again; our values have none, so it stays one word.
      word += v;
      inWord = true;
      i = next;
    } else if (';|&<>{}'.includes(c)) {
      throw new Error(`an unquoted GRUB metacharacter ${c} would end or redirect the command: ${line}`);
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** grub_create_loader_cmdline: \\, ' and " get a backslash; an argument containing a space is wrapped in double quotes. */
function grubLoaderCmdline(args: string[]): string {
  return args.map((a) => {
    const escaped = a.replace(/[\\'"]/g, (ch) => `\\${ch}`);
    return a.includes(' ') ? `"${escaped}"` : escaped;
  }).join(' ');
}

/** Linux's next_arg: [param, value] pairs, quotes grouping words and dropped around a value. */
function kernelArgs(cmdline: string): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = [];
  let s = cmdline.replace(/^\s+/, '');
  while (s.length) {
    let quoted = false;
    let inQuote = false;
    if (s[0] === '"') {
      s = s.slice(1);
      inQuote = true;
      quoted = true;
    }
    let i = 0;
    let equals = 0;
    for (; i < s.length; i++) {
      if (/\s/.test(s[i]!) && !inQuote) break;
      if (equals === 0 && s[i] === '=') equals = i;
      if (s[i] === '"') inQuote = !inQuote;
    }
    let arg = s.slice(0, i);
    if (quoted && arg.endsWith('"')) arg = arg.slice(0, -1);
    let param = arg;
    let value: string | null = null;
    if (equals) {
      param = arg.slice(0, equals);
      value = arg.slice(equals + 1);
      if (value.startsWith('"')) {
        value = value.slice(1);
        if (!quoted && value.endsWith('"')) value = value.slice(0, -1);
      }
    }
    out.push([param, value]);
    s = s.slice(i).replace(/^\s+/, '');
  }
  return out;
}

/** The kernel's parameters from a GRUB script: the `linux` line's arguments after the kernel path. */
function paramsFromGrub(text: string): Array<[string, string | null]> | undefined {
  const line = text.split('\n').find((l) => /^\s*linux\s/.test(l));
  if (!line) return undefined;
  const [cmd, kernel, ...args] = grubWords(line.trim(), { edgeboot_files: '(tftp,10.9.0.1)' });
  expect(cmd).toBe('linux');
  expect(kernel).toBe('(tftp,10.9.0.1)/images/' + kernel!.split('/images/')[1]);
  return kernelArgs(grubLoaderCmdline(args));
}

/** The kernel's parameters from an iPXE script: the `kernel` line's words after the URL, minus iPXE's own `initrd=`. */
function paramsFromIpxe(text: string): Array<[string, string | null]> | undefined {
  const line = text.split('\n').find((l) => /^kernel\s/.test(l));
  if (!line) return undefined;
  const [, , ...words] = line.split(' || ')[0]!.trim().split(/\s+/);
  return kernelArgs(words.join(' ')).filter(([p, v]) => !(p === 'initrd' && v === 'initrd'));
}

function render(node: Node | undefined, kind: Kind) {
  const snap = testSnapshot();
  return testRenderer(snap).render({ kind, node, mac, server, clientIp: '10.9.0.50' }).text;
}

function nodeWith(patch: Record<string, unknown>): Node {
  return testSnapshot(patch).nodes[0]!;
}

const NODES: Array<[string, Node | undefined]> = [
  ['unknown machine (enlist)', undefined],
  ['debian install', nodeWith({})],
  ['ubuntu install (ds=nocloud-net;s=…)', nodeWith({ osystem: 'ubuntu', release: 'noble' })],
  ['commissioning', nodeWith({ status: 'commissioning' })],
  ['rescue', nodeWith({ status: 'rescue' })],
  ['new (wait)', nodeWith({ status: 'new' })],
  ['deployed (local)', nodeWith({ status: 'deployed' })],
  ['broken (error)', nodeWith({ status: 'broken' })],
  ['kernel_opts with a quoted value and extra spaces', nodeWith({ kernel_opts: 'console=ttyS0,115200  acpi_osi="Windows 2020" "quiet=a b" panic=-1' })],
];

describe('GRUB and iPXE hand the kernel the same parameters', () => {
  for (const [title, node] of NODES) {
    it(title, () => {
      const fromGrub = paramsFromGrub(render(node, 'grub'));
      const fromIpxe = paramsFromIpxe(render(node, 'ipxe'));
      expect(fromGrub).toEqual(fromIpxe);
      if (fromIpxe) {
        // Not vacuous: a kernel boot carries BOOTIF and the node's own options as separate parameters.
        expect(fromIpxe.length).toBeGreaterThan(3);
        expect(fromIpxe[0]).toEqual(['BOOTIF', '01-52-54-00-00-00-01']);
        if (node) expect(fromGrub).toContainEqual(['console', node.kernelOpts.includes('115200') ? 'ttyS0,115200' : 'ttyS0']);
      }
    });
  }

  it("every GRUB render passes grub-script-check (grub-common, pulled in by grub-efi-amd64-signed)", () => {
    for (const [title, node] of NODES) {
      const r = spawnSync('grub-script-check', [], { input: render(node, 'grub'), encoding: 'utf8' });
      expect(r.error, 'grub-script-check is missing: run test/setup.sh').toBeUndefined();
      expect(r.status, `${title}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('every kernel-booting purpose has a linux line (the comparison above is not empty)', () => {
    const booting = NODES.filter(([, n]) => paramsFromIpxe(render(n, 'ipxe')) !== undefined).length;
    expect(booting).toBe(6);
  });

  it('the answer-file URL reaches the kernel as its own url= / ds= parameter', () => {
    const debian = paramsFromGrub(render(nodeWith({}), 'grub'))!;
    expect(debian.find(([p]) => p === 'url')?.[1]).toMatch(/^http:\/\/10\.9\.0\.1:5248\/answers\/52-54-00-00-00-01\/[^ ]+\/preseed$/);
    const ubuntu = paramsFromGrub(render(nodeWith({ osystem: 'ubuntu', release: 'noble' }), 'grub'))!;
    expect(ubuntu.find(([p]) => p === 'ds')?.[1]).toMatch(/^nocloud-net;s=http:\/\/10\.9\.0\.1:5248\/answers\/.+\/$/);
  });

  it('the model catches the old form: the whole command line in one quoted word is one parameter', () => {
    const old = `linux (tftp,10.9.0.1)/k 'BOOTIF=01-52-54-00-00-00-01 url=http://x/preseed console=ttyS0'`;
    const args = kernelArgs(grubLoaderCmdline(grubWords(old, {}).slice(2)));
    expect(args).toEqual([['BOOTIF', '01-52-54-00-00-00-01 url=http://x/preseed console=ttyS0']]);
  });

  it('the model refuses an unquoted ; (GRUB would end the linux command there)', () => {
    expect(() => grubWords('linux /k ds=nocloud-net;s=http://x/', {})).toThrow(/metacharacter ;/);
  });
});

describe('kernel parameter words', () => {
  it('splits on spaces outside double quotes and drops the quotes', () => {
    expect(splitKernelParams(' a=1  b="x y" "c=d e" f')).toEqual(['a=1', 'b=x y', 'c=d e', 'f']);
  });

  it('keeps CR and NUL inside a word so the template filter rejects them', () => {
    expect(splitKernelParams('quiet\rinitrd=x')).toEqual(['quiet\rinitrd=x']);
  });

  it('joins a value with a space back in quotes the kernel reads as one parameter', () => {
    const line = joinKernelParams(['a=1', 'b=x y', 'flag with space']);
    expect(line).toBe('a=1 b="x y" "flag with space"');
    expect(kernelArgs(line)).toEqual([['a', '1'], ['b', 'x y'], ['flag with space', null]]);
  });
});
