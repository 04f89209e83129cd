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
  },
});
