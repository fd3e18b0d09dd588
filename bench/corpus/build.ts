// `tsx bench/corpus/build.ts [aaa1500|sipp-mixed]…`: builds (or finds cached) corpora and prints their metadata.
import { corpusByName } from './corpora.js';

const names = process.argv.slice(2);
for (const n of names.length > 0 ? names : ['aaa1500', 'sipp-mixed']) {
  const c = await corpusByName(n);
  process.stdout.write(`${c.path}\n${JSON.stringify(c.meta, null, 2)}\n`);
}
