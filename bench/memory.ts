// memory benchmark (issue 7): not built yet.
import type { SystemBenchmark } from './lib/bench.js';

export const memoryBench: SystemBenchmark = {
  name: 'memory',
  corpora: null,
  run() {
    return Promise.reject(new Error('memory: not built yet'));
  },
};
