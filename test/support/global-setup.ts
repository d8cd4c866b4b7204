import type { TestProject } from 'vitest/node';
import { startBroker } from './broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    /** The same broker's SASL_PLAINTEXT listener (see test/support/broker.ts). */
    kafkaSaslBrokers: string;
  }
}

/** One broker for the whole integration run; every test makes its own topics on it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startBroker();
  project.provide('kafkaBrokers', broker.brokers);
  project.provide('kafkaSaslBrokers', broker.saslBrokers);
  return () => broker.stop();
}
