// Lint: ESLint's and typescript-eslint's recommended rules (pure JavaScript: no per-platform binaries,
// so `npm ci` works from the lock file on every machine), plus the import direction of docs/architecture.md,
// enforced with ESLint's built-in `no-restricted-imports` (one block per source folder, generated below).
import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The rooms of src/ and what each may import (besides itself). Keep in step with docs/architecture.md.
const EDGE = ['core', 'contract', 'render', 'observe', 'boot', 'files', 'net', 'config', 'sync/nodes'];
const SYNC_ROOMS = ['sync/nodes', 'sync/snapshot', 'sync/inventory', 'sync/region', 'sync/images', 'sync/report'];
const MAY_IMPORT = {
  core: [],
  contract: ['core'],
  render: ['core'],
  'sync/nodes': ['core', 'contract'],
  observe: ['core', 'contract', 'render'],
  files: ['core', 'render'],
  net: ['core'],
  config: ['core', 'contract'],
  boot: ['core', 'contract', 'render', 'observe', 'sync/nodes'],
  tftp: EDGE,
  http: EDGE,
  'dhcp-hooks': EDGE,
  'sync/snapshot': ['core', 'contract'],
  'sync/inventory': ['core', 'contract', 'sync/nodes', 'sync/snapshot'],
  'sync/region': ['core', 'contract', 'sync/nodes', 'sync/snapshot'],
  'sync/images': ['core', 'contract', 'sync/nodes', 'sync/region'],
  'sync/report': ['core', 'contract', 'observe', 'sync/nodes', 'sync/region'],
  sync: ['core', 'contract', 'config', 'observe', ...SYNC_ROOMS],
  'region-server': ['core', 'contract', 'sync/nodes', 'sync/inventory'],
  '.': [...EDGE, 'tftp', 'http', 'dhcp-hooks', 'sync', ...SYNC_ROOMS, 'region-server'],
  cli: [...EDGE, 'tftp', 'http', 'dhcp-hooks', 'sync', ...SYNC_ROOMS, 'region-server', '.'],
};
// Rooms whose index.ts is the only door other rooms may use.
const DOORS = new Set(['contract', 'region-server', 'sync', ...SYNC_ROOMS]);
// The pure rooms do no I/O: the modules that would do it are refused there.
const IO_MODULES = ['node:fs', 'node:fs/promises', 'node:dgram', 'node:http', 'node:https', 'node:child_process', 'express', 'chokidar'];
const PURE = new Set(['core', 'contract', 'render']);

const ROOMS = Object.keys(MAY_IMPORT);
const hasSubRooms = (room) => ROOMS.some((r) => r !== room && (room === '.' || r.startsWith(`${room}/`)));
const roomOf = (folder) => ROOMS.filter((r) => r === '.' || folder === r || folder.startsWith(`${r}/`)).sort((a, b) => b.length - a.length)[0];
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const spec = (from, to) => {
  const rel = posix.relative(from, to);
  return rel === '' ? '.' : rel.startsWith('..') ? rel : `./${rel}`;
};
function folders(dir, rel = '.') {
  const subs = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
  return [rel, ...subs.flatMap((d) => folders(join(dir, d.name), rel === '.' ? d.name : `${rel}/${d.name}`))];
}

/** The no-restricted-imports patterns for the files directly in `folder` (relative to src/). */
function patternsFor(folder) {
  const room = roomOf(folder);
  const allowed = new Set(MAY_IMPORT[room]);
  const why = `${room === '.' ? 'src/main.ts' : `src/${room}`} may import only ${[...allowed].join(', ') || 'itself'} (docs/architecture.md)`;
  const patterns = [];
  for (const other of ROOMS) {
    if (other === room) continue;
    // A parent room (sync, src itself) is only its own files; its sub-rooms are rooms of their own.
    const tail = hasSubRooms(other) ? '[^/]+$' : '';
    const base = `^${escape(spec(folder, other))}/`;
    if (!allowed.has(other)) patterns.push({ regex: `${base}${tail}`, message: `${why}.` });
    else if (DOORS.has(other)) patterns.push({ regex: `${base}(?!index\\.js$)${tail || '.'}`, message: `import src/${other} through its index.js.` });
  }
  // Relative paths stay canonical (no `x/..`, no climbing out of a folder to come back into it), so the
  // patterns above see every import in the one spelling they expect.
  patterns.push({ regex: '(^|/)[^./][^/]*/\\.\\.(/|$)', message: 'write the shortest relative path (no "folder/..").' });
  const parts = folder === '.' ? [] : folder.split('/');
  for (let up = 1; up <= parts.length; up++) {
    patterns.push({ regex: `^(\\.\\./){${up}}${escape(parts[parts.length - up])}(/|$)`, message: 'write the shortest relative path (this one leaves its folder and comes back).' });
  }
  const paths = PURE.has(room) ? IO_MODULES.map((name) => ({ name, message: `src/${room} is pure: no I/O here.` })) : [];
  return { paths, patterns };
}

// A folder of src/ with no row above would fall under src/main.ts's row and could import anything: every new
// room is declared here (and in docs/architecture.md) before it lints.
const undeclared = folders('src').filter((f) => f !== '.' && roomOf(f) === '.');
if (undeclared.length) throw new Error(`src/${undeclared[0]} has no row in the room table of eslint.config.js (MAY_IMPORT): declare what it may import.`);

const directionBlocks = folders('src').map((folder) => ({
  files: [folder === '.' ? 'src/*.ts' : `src/${folder}/*.ts`],
  rules: { 'no-restricted-imports': ['error', patternsFor(folder)] },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'node_modules/**', 'debian/edgeboot/**', 'debian/build/**', 'debian/.debhelper/**', 'test-output/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      // Parsers and filters match control characters on purpose (NUL, CR, LF in hostile input).
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  ...directionBlocks,
  {
    // Tests share helpers through test/support, never through the benchmarks.
    files: ['test/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)bench/', message: 'tests do not import bench/; shared helpers live in test/support/.' }] }] },
  },
);
