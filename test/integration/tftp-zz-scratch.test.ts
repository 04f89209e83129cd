import { it } from 'vitest';
import { startHarness } from '/work/main/test/integration/tftp-harness.js';
import { writeFileSync } from 'node:fs';
it('serve', async () => {
  const h = await startHarness({});
  writeFileSync('/tmp/harness-port', String(h.port));
  await new Promise((r) => setTimeout(r, 25_000));
  await h.close();
}, 60_000);
