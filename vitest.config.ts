import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration and e2e tests bind sockets and spawn real peers; run files one at a time
    // so two qemu guests never compete for the machine's two cores.
    fileParallelism: false,
    reporters: ['default'],
    // Appliances started in-process run from source; their region link uses the built helper process, as
    // the installed package does (`npm test` builds first).
    env: { EDGEBOOT_REGION_HELPER: resolve(import.meta.dirname, 'dist/src/sync/region/helper/region-worker.js') },
  },
});
