import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration tests bind sockets and spawn real peers, and their drills are timing-sensitive: files run
    // one at a time. `npm test` runs test/e2e in a second pass two files at a time (each file has its own
    // namespaces and subnets), one qemu guest per core.
    fileParallelism: false,
    reporters: ['default'],
    // Appliances started in-process run from source; their region link uses the built helper process, as
    // the installed package does (`npm test` builds first).
    env: { EDGEBOOT_REGION_HELPER: resolve(import.meta.dirname, 'dist/src/sync/region/helper/region-worker.js') },
  },
});
