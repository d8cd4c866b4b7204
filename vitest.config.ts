import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

const projects: TestProjectInlineConfiguration[] = [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // Each test reads and writes a real broker; they run one file at a time to keep timings honest on 2 cores.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // Each case kills, stops or blocks what the service depends on, and times it: one file at a time
          // (the window kinds of a case run side by side). Every case sets its own timeout.
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'container',
          include: ['test/container/**/*.test.ts'],
          // Builds the image and runs it against the broker at KAFKA_BROKERS (else 127.0.0.1:9092);
          // skipped, saying why, without a Docker engine or the base image (scripts/docker-base.sh).
          fileParallelism: false,
          testTimeout: 300_000,
          // The first image build downloads every dependency.
          hookTimeout: 900_000,
        },
      },
];

/** TEST_PROJECTS=unit,integration runs only those (npm run test:node24 does: the others do not depend on the host's runtime). */
const only = process.env.TEST_PROJECTS?.split(',').map((name) => name.trim());

export default defineConfig({
  test: {
    projects: only === undefined ? projects : projects.filter((project) => only.includes(project.test?.name as string)),
  },
});
