// Diff of two SIP messages, line by line (a longest common subsequence of lines, as diff(1) without
// context folding): what a proxy added, removed or rewrote between the message it received and the
// one it sent. Bounded: messages are at most a few hundred lines; past DIFF_MAX_LINES each, the
// diff says so instead of using quadratic memory.
import { useMemo } from 'react';

export const DIFF_MAX_LINES = 2000;

export type DiffLine = { op: ' ' | '-' | '+'; text: string };

export function diffLines(a: string, b: string): DiffLine[] | null {
  const x = a.replace(/\r\n/g, '\n').split('\n');
  const y = b.replace(/\r\n/g, '\n').split('\n');
  if (x.length > DIFF_MAX_LINES || y.length > DIFF_MAX_LINES) return null;
  // lcs[i][j]: length of the LCS of x[i..] and y[j..]
  const lcs: Uint16Array[] = Array.from({ length: x.length + 1 }, () => new Uint16Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: '-', text: x[i++] });
    else out.push({ op: '+', text: y[j++] });
  }
  while (i < x.length) out.push({ op: '-', text: x[i++] });
  while (j < y.length) out.push({ op: '+', text: y[j++] });
  return out;
}

export function MessageDiff({ a, b, aLabel, bLabel, onClose }: { a: string; b: string; aLabel: string; bLabel: string; onClose(): void }) {
  const lines = useMemo(() => diffLines(a, b), [a, b]);
  const changed = lines?.filter((l) => l.op !== ' ').length ?? 0;
  return (
    <div className="message-diff" data-testid="message-diff">
      <div className="detail-head">
        <span className="small">
          <span className="diff-del">− {aLabel}</span> <span className="diff-add">+ {bLabel}</span> · {changed} lines differ
        </span>
        <span className="spacer" />
        <button type="button" onClick={onClose} title="stop comparing" data-testid="diff-close">
          ✕
        </button>
      </div>
      {lines === null ? (
        <p className="muted">These messages are longer than {DIFF_MAX_LINES} lines: compare them in the downloaded PCAP.</p>
      ) : (
        <pre className="sip-text">
          {lines.map((l, k) => (
            <span key={k} className={`line${l.op === '-' ? ' diff-del' : l.op === '+' ? ' diff-add' : ''}`} data-op={l.op}>
              {l.op} {l.text}
              {'\n'}
            </span>
          ))}
        </pre>
      )}
    </div>
  );
}
