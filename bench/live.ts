// live benchmark (issue 7): not built yet.
import type { SystemBenchmark } from './lib/bench.js';

export const liveBench: SystemBenchmark = {
  name: 'live',
  corpora: null,
  run() {
    return Promise.reject(new Error('live: not built yet'));
  },
};
