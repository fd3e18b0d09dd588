// The message detail panel: the full SIP text of the selected arrow with header names and the SDP body
// highlighted, and where/when/who saw it; for a call state or route note, the platform's own view.
import type { ReactNode } from 'react';
import type { Event } from '../../core/schema/event.js';
import type { CallMark, LadderArrow, Lane } from '../../core/ladder/types.js';
import { useState } from 'react';
import { formatDelta } from '../../core/ladder/svg.js';
import { formatTime } from '../format.js';
import { MessageDiff } from './message-diff.js';
import type { TimeZoneMode } from '../format.js';

/** SIP text → lines with the start line, header names and SDP `x=` keys marked up. */
export function SipText({ text }: { text: string }) {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const out: ReactNode[] = [];
  let inBody = false;
  const sdp = /content-type:\s*application\/sdp/i.test(text) || /^v=0$/m.test(text);
  lines.forEach((line, i) => {
    let node: ReactNode;
    if (i === 0) node = <span className="sip-start">{line}</span>;
    else if (!inBody && line === '') {
      inBody = true;
      node = '';
    } else if (!inBody) {
      const c = line.indexOf(':');
      node =
        c > 0 && !line.startsWith(' ') && !line.startsWith('\t') ? (
          <>
            <span className="sip-hname">{line.slice(0, c)}</span>
            {line.slice(c)}
          </>
        ) : (
          line
        );
    } else if (sdp && /^[a-z]=/.test(line)) {
      node = (
        <span className="sdp-line">
          <span className="sdp-key">{line.slice(0, 2)}</span>
          {line.slice(2)}
        </span>
      );
    } else node = line;
    out.push(
      <span key={i} className="line">
        {node}
        {'\n'}
      </span>,
    );
  });
  return <pre className="sip-text">{out}</pre>;
}

export function MessageDetail({
  arrow,
  event,
  lanes,
  total,
  onMove,
  onClose,
  tz,
  compare,
  onCompare,
}: {
  arrow: LadderArrow;
  event: Event | undefined;
  lanes: Lane[];
  total: number;
  onMove(delta: number): void;
  onClose(): void;
  tz: TimeZoneMode;
  /** the message marked to compare with (its label and text), or null */
  compare: { label: string; eventId: number; text: string } | null;
  /** marks this message to compare others with, or (null) stops comparing */
  onCompare(c: { label: string; eventId: number; text: string } | null): void;
}) {
  const [copied, setCopied] = useState(false);
  const from = lanes[arrow.from];
  const to = lanes[arrow.to];
  return (
    <aside className="detail" data-testid="message-detail" aria-label="message detail">
      <div className="detail-head">
        <strong>{arrow.label}</strong>
        {arrow.retransmission && <span className="badge warn">retransmission</span>}
        <span className="spacer" />
        <button type="button" onClick={() => onMove(-1)} disabled={arrow.index === 0} title="previous message (↑)">
          ↑
        </button>
        <button type="button" onClick={() => onMove(1)} disabled={arrow.index >= total - 1} title="next message (↓)">
          ↓
        </button>
        {event?.payload && (
          <button
            type="button"
            data-testid="copy-raw"
            title="copy the raw message text"
            onClick={() => {
              void navigator.clipboard?.writeText(event.payload ?? '').then(() => setCopied(true));
            }}
          >
            {copied ? 'Copied' : 'Copy raw'}
          </button>
        )}
        {event?.payload && compare?.eventId !== event.id && (
          <button
            type="button"
            data-testid="compare-mark"
            title="compare other messages with this one"
            onClick={() => onCompare({ label: `#${arrow.index + 1} ${arrow.label}`, eventId: event.id, text: event.payload ?? '' })}
          >
            Compare…
          </button>
        )}
        <button type="button" onClick={onClose} title="close">
          ✕
        </button>
      </div>
      <dl className="facts">
        <dt>#</dt>
        <dd>
          {arrow.index + 1} of {total}
        </dd>
        <dt>time</dt>
        <dd className="mono">
          {formatTime({ us: arrow.ts }, tz)} ({formatDelta(arrow.deltaUs)})
        </dd>
        <dt>from → to</dt>
        <dd className="mono">
          {from?.key} → {to?.key} {arrow.transport ? `(${arrow.transport.toUpperCase()})` : ''}
        </dd>
        <dt>Call-ID</dt>
        <dd className="mono small">{arrow.callId ?? '—'}</dd>
        <dt>CSeq</dt>
        <dd className="mono">{arrow.cseq ?? '—'}</dd>
        <dt>seen by</dt>
        <dd>{arrow.agentNames.join(', ')}</dd>
      </dl>
      {compare && event?.payload && compare.eventId !== event.id && (
        <MessageDiff a={compare.text} b={event.payload} aLabel={compare.label} bLabel={`#${arrow.index + 1} ${arrow.label}`} onClose={() => onCompare(null)} />
      )}
      {compare && compare.eventId === event?.id && (
        <p className="muted small" data-testid="compare-hint">
          Marked to compare: select another message (↑/↓ or click) to see what differs.{' '}
          <button type="button" onClick={() => onCompare(null)}>
            Cancel
          </button>
        </p>
      )}
      {event?.payload ? <SipText text={event.payload} /> : <p className="muted">The message text was not captured.</p>}
    </aside>
  );
}

/** A platform's call state or a route decision: what it said, when, and its own fields. */
export function MarkDetail({ mark, lanes, onClose, tz }: { mark: CallMark; lanes: Lane[]; onClose(): void; tz: TimeZoneMode }) {
  const fields = Object.entries(mark.fields);
  return (
    <aside className="detail" data-testid="mark-detail" aria-label={mark.kind === 'route' ? 'route decision' : 'call state'}>
      <div className="detail-head">
        <strong>{mark.label}</strong>
        <span className="spacer" />
        <button type="button" onClick={onClose} title="close">
          ✕
        </button>
      </div>
      <dl className="facts">
        <dt>time</dt>
        <dd className="mono">{formatTime({ us: mark.ts }, tz)}</dd>
        <dt>{mark.kind === 'route' ? 'router' : 'platform'}</dt>
        <dd>{mark.platform ?? lanes[mark.lane]?.name ?? lanes[mark.lane]?.key ?? '—'}</dd>
        <dt>Call-ID</dt>
        <dd className="mono small">{mark.callId ?? '—'}</dd>
        <dt>reported by</dt>
        <dd className="small">{mark.source}</dd>
      </dl>
      {fields.length > 0 && (
        <table className="grid small" data-testid="mark-fields">
          <tbody>
            {fields.map(([k, v]) => (
              <tr key={k}>
                <th className="mono">{k}</th>
                <td className="mono">{v === null ? '—' : String(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mark.text && <pre className="sip-text">{mark.text}</pre>}
    </aside>
  );
}
