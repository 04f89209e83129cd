#!/usr/bin/env node
// Check the pruned production node_modules and describe it for debian/copyright.
// Usage: node debian/bundle-modules.mjs <node_modules dir> > copyright-bundled
// Fails when a module has a native addon or an ELF file (the package is Architecture: all) or a
// licence outside the ones debian/copyright spells out.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
const KNOWN = new Set(['MIT', 'ISC', 'BSD-3-Clause', 'Apache-2.0']);
const problems = [];
const modules = [];

function walk(dir, rel) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(path, `${rel}/${name}`);
    else if (name.endsWith('.node') || name === 'binding.gyp') problems.push(`${rel}/${name}: native addon`);
    else if (st.size >= 4 && readFileSync(path).subarray(0, 4).toString('latin1') === '\x7fELF') problems.push(`${rel}/${name}: ELF file`);
  }
}

function collect(dir, prefix) {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (name.startsWith('@')) {
      collect(path, `${name}/`);
      continue;
    }
    const pkgFile = join(path, 'package.json');
    if (!statSync(pkgFile, { throwIfNoEntry: false })) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    const license = typeof pkg.license === 'string' ? pkg.license : '';
    if (!KNOWN.has(license)) problems.push(`${prefix}${name}: licence "${license}" is not described in debian/copyright`);
    const lic = readdirSync(path).find((f) => /^(licen[cs]e|copying)/i.test(f));
    const holder = lic ? /^.*copyright.*\d{4}.*$/im.exec(readFileSync(join(path, lic), 'utf8'))?.[0].trim() : undefined;
    modules.push({ name: `${prefix}${name}`, version: pkg.version, license, holder });
    const nested = join(path, 'node_modules');
    if (statSync(nested, { throwIfNoEntry: false })) collect(nested, `${prefix}${name}/node_modules/`);
  }
}

walk(root, 'node_modules');
collect(root, '');
if (problems.length) {
  process.stderr.write(`bundle-modules: ${problems.join('\n  ')}\n`);
  process.exit(1);
}
for (const m of modules) {
  const holder = m.holder ? m.holder.replace(/^.*?copyright\s*(\(c\)|©)?\s*/i, '') : `the ${m.name} authors`;
  process.stdout.write(`\nFiles: usr/lib/edgeboot/node_modules/${m.name}/*\nCopyright: ${holder}\nLicense: ${m.license}\nComment: ${m.name} ${m.version}\n`);
}
