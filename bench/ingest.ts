// ingest benchmark (issue 7): not built yet.
import type { SystemBenchmark } from './lib/bench.js';

export const ingestBench: SystemBenchmark = {
  name: 'ingest',
  corpora: null,
  run() {
    return Promise.reject(new Error('ingest: not built yet'));
  },
};
