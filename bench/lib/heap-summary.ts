// What a V8 heap snapshot (.heapsnapshot, as written by --heapsnapshot-signal) holds: self sizes per
// constructor / node type, and retained sizes (dominator tree, Cooper–Harvey–Kennedy) of chosen
// classes broken down by property, so a report can say which field of which object keeps the memory.
// Reads the file as bytes and scans the `nodes` and `edges` arrays into typed arrays itself, so a
// snapshot larger than V8's longest string still parses; only the `strings` table goes through JSON.parse.
import { readFileSync } from 'node:fs';

export interface HeapGroup {
  name: string;
  count: number;
  bytes: number;
}

export interface ClassRetained {
  name: string;
  instances: number;
  /** sum of the instances' retained sizes (objects shared by several instances count in none) */
  retained: number;
  /** per property: retained size of the values the instances alone hold through it */
  fields: { edge: string; bytes: number }[];
}

export interface HeapSummary {
  totalBytes: number;
  nodes: number;
  groups: HeapGroup[];
  classes: ClassRetained[];
  /** strings held only as the parent of a sliced string (a substring keeping its whole source alive) */
  slicedParents: { count: number; bytes: number; sample: string };
}

const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);

/** non-negative integers of the JSON array starting at `from` (just after `[`), up to its `]` */
function scanInts(buf: Buffer, from: number, expect: number): { values: Uint32Array; end: number } {
  const out = new Uint32Array(expect);
  let n = 0;
  let num = 0;
  let inNum = false;
  let i = from;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      num = num * 10 + (c - 48);
      inNum = true;
      continue;
    }
    if (inNum) {
      if (n < expect) out[n] = num;
      n++;
      num = 0;
      inNum = false;
    }
    if (c === 93) break; // ]
  }
  if (n !== expect) throw new Error(`heap snapshot: expected ${expect} numbers, read ${n}`);
  return { values: out, end: i };
}

interface Meta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

export function summarizeHeap(file: string, classes: string[] = [], top = 15): HeapSummary {
  const buf = readFileSync(file);
  const nodesAt = buf.indexOf('"nodes":[');
  const stringsAt = buf.lastIndexOf('"strings":[');
  if (nodesAt < 0 || stringsAt < 0) throw new Error(`${file}: not a heap snapshot`);
  const head = JSON.parse(buf.toString('utf8', 0, nodesAt).trim().replace(/,$/, '') + '}') as {
    snapshot: { meta: Meta; node_count: number; edge_count: number };
  };
  const meta = head.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const nodes = scanInts(buf, nodesAt + 9, head.snapshot.node_count * NF);
  const edgesAt = buf.indexOf('"edges":[', nodes.end);
  const edges = scanInts(buf, edgesAt + 9, head.snapshot.edge_count * EF).values;
  const nv = nodes.values;
  const strings = JSON.parse(buf.toString('utf8', stringsAt + 10, buf.lastIndexOf(']') + 1)) as string[];
  const N = head.snapshot.node_count;
  const fT = meta.node_fields.indexOf('type');
  const fN = meta.node_fields.indexOf('name');
  const fS = meta.node_fields.indexOf('self_size');
  const fE = meta.node_fields.indexOf('edge_count');
  const eT = meta.edge_fields.indexOf('type');
  const eN = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const types = meta.node_types[0];
  const etypes = meta.edge_types[0];
  const WEAK = etypes.indexOf('weak');
  const SHORTCUT = etypes.indexOf('shortcut');
  const ELEMENT = etypes.indexOf('element');
  const HIDDEN = etypes.indexOf('hidden');
  const typeOf = (v: number): string => types[nv[v * NF + fT]] ?? '?';
  const nameOf = (v: number): string => strings[nv[v * NF + fN]] ?? '?';
  const selfOf = (v: number): number => nv[v * NF + fS];

  // self sizes by group
  const by = new Map<string, HeapGroup>();
  let total = 0;
  const first = new Uint32Array(N + 1);
  for (let v = 0, e = 0; v < N; v++) {
    first[v] = e;
    e += nv[v * NF + fE] * EF;
    first[v + 1] = e;
    const t = typeOf(v);
    const key = STRING_TYPES.has(t)
      ? '(strings)'
      : t === 'object' || t === 'closure' || t === 'native'
        ? `${nameOf(v)}${t === 'closure' ? ' (closure)' : ''}`
        : `(${t}${t === 'array' || t === 'hidden' ? ` ${nameOf(v)}` : ''})`.replace(' )', ')');
    let g = by.get(key);
    if (!g) by.set(key, (g = { name: key, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += selfOf(v);
    total += selfOf(v);
  }
  const strong = (e: number): boolean => edges[e + eT] !== WEAK && edges[e + eT] !== SHORTCUT;

  // dominators: DFS post-order from the root (node 0), predecessors, then iterate to a fixed point
  const order = new Int32Array(N).fill(-1);
  const post = new Uint32Array(N);
  let np = 0;
  const seen = new Uint8Array(N);
  const cursor = new Uint32Array(N);
  const stack = new Uint32Array(N);
  let sp = 0;
  stack[sp++] = 0;
  seen[0] = 1;
  cursor[0] = first[0];
  while (sp > 0) {
    const v = stack[sp - 1];
    if (cursor[v] < first[v + 1]) {
      const e = cursor[v];
      cursor[v] += EF;
      if (!strong(e)) continue;
      const w = edges[e + eTo] / NF;
      if (!seen[w]) {
        seen[w] = 1;
        cursor[w] = first[w];
        stack[sp++] = w;
      }
    } else {
      sp--;
      order[v] = np;
      post[np++] = v;
    }
  }
  const predStart = new Uint32Array(N + 1);
  for (let v = 0; v < N; v++) if (seen[v]) for (let e = first[v]; e < first[v + 1]; e += EF) if (strong(e)) predStart[edges[e + eTo] / NF + 1]++;
  for (let v = 0; v < N; v++) predStart[v + 1] += predStart[v];
  const preds = new Uint32Array(predStart[N]);
  const fill = predStart.slice(0, N);
  for (let v = 0; v < N; v++) if (seen[v]) for (let e = first[v]; e < first[v + 1]; e += EF) if (strong(e)) preds[fill[edges[e + eTo] / NF]++] = v;
  const idom = new Int32Array(N).fill(-1);
  idom[0] = 0;
  const meet = (a: number, b: number): number => {
    while (a !== b) {
      while (order[a] < order[b]) a = idom[a];
      while (order[b] < order[a]) b = idom[b];
    }
    return a;
  };
  let changed = true;
  for (let round = 0; changed && round < 100; round++) {
    changed = false;
    for (let k = np - 2; k >= 0; k--) {
      const v = post[k];
      let d = -1;
      for (let p = predStart[v]; p < predStart[v + 1]; p++) {
        const u = preds[p];
        if (idom[u] === -1) continue;
        d = d === -1 ? u : meet(u, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const ret = new Float64Array(N);
  for (let k = 0; k < np; k++) {
    const v = post[k];
    ret[v] += selfOf(v);
    if (v !== 0) ret[idom[v]] += ret[v];
  }

  const classOut: ClassRetained[] = classes.map((cls) => {
    let instances = 0;
    let retained = 0;
    const fields = new Map<string, number>();
    for (let v = 0; v < N; v++) {
      if (!seen[v] || typeOf(v) !== 'object' || nameOf(v) !== cls) continue;
      instances++;
      retained += ret[v];
      for (let e = first[v]; e < first[v + 1]; e += EF) {
        if (!strong(e)) continue;
        const w = edges[e + eTo] / NF;
        if (idom[w] !== v) continue;
        const t = edges[e + eT];
        const edge = t === ELEMENT ? '[element]' : t === HIDDEN ? '(hidden)' : (strings[edges[e + eN]] ?? '?');
        fields.set(edge, (fields.get(edge) ?? 0) + ret[w]);
      }
    }
    return {
      name: cls,
      instances,
      retained,
      fields: [...fields].map(([edge, bytes]) => ({ edge, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 8),
    };
  });

  // parents of sliced strings
  const sliced = types.indexOf('sliced string');
  const parents = new Set<number>();
  for (let v = 0; v < N; v++) {
    if (nv[v * NF + fT] !== sliced) continue;
    for (let e = first[v]; e < first[v + 1]; e += EF) if (strings[edges[e + eN]] === 'parent') parents.add(edges[e + eTo] / NF);
  }
  let pb = 0;
  for (const p of parents) pb += selfOf(p);
  const sample = parents.size > 0 ? nameOf(parents.values().next().value as number).slice(0, 40) : '';

  return {
    totalBytes: total,
    nodes: N,
    groups: [...by.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top),
    classes: classOut,
    slicedParents: { count: parents.size, bytes: pb, sample },
  };
}
