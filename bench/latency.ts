// latency benchmark (issue 7): not built yet.
import type { SystemBenchmark } from './lib/bench.js';

export const latencyBench: SystemBenchmark = {
  name: 'latency',
  corpora: null,
  run() {
    return Promise.reject(new Error('latency: not built yet'));
  },
};
