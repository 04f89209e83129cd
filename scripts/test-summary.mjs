#!/usr/bin/env node
// Print vitest's JSON reports (one per vitest run) as one plain closing line: "N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';

const files = process.argv.length > 2 ? process.argv.slice(2) : ['test-output/vitest.json'];
let passed = 0;
let failed = 0;
let skipped = 0;
let ok = true;
for (const file of files) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // A run that wrote no report (it crashed, or its config failed) is a failure, never a silent pass.
    console.error(`test summary: cannot read ${file}: ${err.message}`);
    failed += 1;
    ok = false;
    continue;
  }
  passed += report.numPassedTests ?? 0;
  // A file that fails before any test runs (an import error) counts as a failure too.
  failed += (report.numFailedTests ?? 0) + (report.numFailedTests ? 0 : (report.numFailedTestSuites ?? 0));
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if (report.success === false || (report.numPassedTests ?? 0) === 0) ok = false;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || !ok ? 1 : 0);
