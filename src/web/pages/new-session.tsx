// New capture form: label, duration, every criterion with inline help, RTP/PCAP toggles, agents by
// checkbox and by tag chips. Validated with the API's own schema (core/schema) before it is sent, so
// "method alone" is refused with the API's message; API errors are shown next to their field.
import { useMemo, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { api, ApiError, fieldOfError } from '../api.js';
import { CRITERIA_REQUIRED_MESSAGE, SEARCH_CRITERIA, hasSearchCriterion } from '../../core/schema/criteria.js';
import type { Criteria } from '../../core/schema/criteria.js';
import { DURATION_DEFAULT_SECONDS, DURATION_MAX_SECONDS, LABEL_MAX_LENGTH, sessionCreateSchema } from '../../core/schema/session.js';
import type { SessionCreated } from '../../core/schema/session.js';
import type { AgentView } from '../../core/schema/agent.js';
import { usePoll } from '../hooks.js';
import { navigate } from '../router.js';

type CriterionKey = keyof Criteria;

const CRITERIA: { key: CriterionKey; label: string; placeholder: string; help: string }[] = [
  { key: 'from', label: 'From (caller)', placeholder: '+1 555 443 0191', help: 'The calling number or user: From, P-Asserted-Identity, P-Preferred-Identity or Remote-Party-ID. Numbers compare on digits; a national form matches its international form.' },
  { key: 'to', label: 'To (called)', placeholder: '15558672044', help: 'The called number or user: Request-URI, To, Diversion or History-Info. A call to a number never matches "from" with it.' },
  { key: 'tenant', label: 'Tenant', placeholder: 'acme', help: 'X-Tenant / X-Tenant-Id / X-Tenant-Code header, a tenant= URI parameter, or the first label of the host.' },
  { key: 'domain', label: 'Domain', placeholder: 'example.com', help: 'Host of the Request-URI, From or To; a parent domain matches its subdomains.' },
  { key: 'provider_ip', label: 'Provider IP', placeholder: '203.0.113.0/24', help: 'Source or destination IP of the packet: one address or a CIDR block.' },
  { key: 'text', label: 'Text', placeholder: 'X-Trace: 8731', help: 'Case-insensitive plain text (not a regular expression) anywhere in a SIP message or log line; at least 3 characters.' },
  { key: 'call_id', label: 'Call-ID', placeholder: 'a84b4c76e66710@pc33.example.com', help: 'The exact Call-ID (the compact i: header counts too).' },
  { key: 'method', label: 'Method', placeholder: 'INVITE', help: 'Narrows the capture to dialogs created by this method (INVITE, REGISTER, OPTIONS…). Not enough by itself.' },
];

type Errors = Record<string, string>;

function Field({ label, help, error, children }: { label: string; help?: string; error?: string; children: ReactNode }) {
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label>
        <span className="field-label">{label}</span>
        {children}
      </label>
      {help && <div className="help">{help}</div>}
      {error && (
        <div className="error field-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

export function NewSessionPage() {
  const agents = usePoll(() => api<{ agents: AgentView[] } | AgentView[]>('/api/agents'), 0, []);
  const agentList: AgentView[] = useMemo(() => {
    const d = agents.data;
    return d === null ? [] : Array.isArray(d) ? d : d.agents;
  }, [agents.data]);
  const [label, setLabel] = useState('');
  const [duration, setDuration] = useState(String(DURATION_DEFAULT_SECONDS));
  const [criteria, setCriteria] = useState<Record<string, string>>({});
  const [rtp, setRtp] = useState(false);
  const [pcap, setPcap] = useState(true);
  const [agentIds, setAgentIds] = useState<number[]>([]);
  const [tags, setTags] = useState<string[]>([]);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  const allTags = useMemo(() => {
    const m = new Map<string, AgentView[]>();
    for (const a of agentList) for (const t of a.tags) m.set(t, [...(m.get(t) ?? []), a]);
    return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }, [agentList]);
  const selectedByTags = new Set(agentList.filter((a) => a.enabled && a.tags.some((t) => tags.includes(t))).map((a) => a.id));

  // messages name fields as the form does ("Duration (seconds) …"), not by their API keys ("duration_seconds: …")
  const formNames: Record<string, string> = {
    label: 'Label',
    duration_seconds: 'Duration (seconds)',
    agent_ids: 'Agents',
    agent_tags: 'Agent tags',
    ...Object.fromEntries(CRITERIA.map((c) => [c.key, c.label])),
  };
  const named = (msg: string): string =>
    msg
      .replace(/^(?:criteria\.)?([a-z_]+): (?=\1\b)/, '') // "criteria.provider_ip: provider_ip must…" says it twice
      .replace(/^(?:criteria\.)?([a-z_]+)\b/, (all, key: string) => formNames[key] ?? all);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const body = {
      label,
      duration_seconds: duration.trim() === '' ? undefined : Number(duration),
      criteria: Object.fromEntries(Object.entries(criteria).filter(([, v]) => v.trim() !== '')),
      capture_rtp: rtp,
      capture_pcap: pcap,
      agent_ids: agentIds,
      agent_tags: tags,
    };
    const errs: Errors = {};
    const parsed = sessionCreateSchema.safeParse(body);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const p = issue.path.map(String);
        const key = p[0] === 'criteria' && p.length > 1 ? p[1] : p[0] === 'agent_ids' || p[0] === 'agent_tags' ? 'agents' : (p[0] ?? 'form');
        errs[key] ??= named(issue.message);
      }
    } else if (!hasSearchCriterion(parsed.data.criteria)) {
      errs.criteria = CRITERIA_REQUIRED_MESSAGE;
    }
    if (agentIds.length === 0 && tags.length === 0) errs.agents ??= 'choose at least one agent, by checkbox or by tag';
    setErrors(errs);
    if (Object.keys(errs).length > 0) return;
    setBusy(true);
    try {
      const created = await api<SessionCreated>('/api/sessions', { method: 'POST', body });
      navigate(`/sessions/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError) setErrors({ [fieldOfError(err)]: named(err.message) });
      else setErrors({ form: String(err) });
    } finally {
      setBusy(false);
    }
  };

  const toggle = <T,>(list: T[], v: T): T[] => (list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);

  return (
    <section>
      <h1>New capture</h1>
      <form onSubmit={(e) => void submit(e)} className="new-session" noValidate data-testid="new-session-form">
        <div className="cols">
          <div>
            <Field label="Label" help="Shown in the sessions list and in export file names, e.g. the ticket number." error={errors.label}>
              <input
                name="label"
                value={label}
                maxLength={LABEL_MAX_LENGTH}
                onChange={(e) => setLabel(e.target.value)}
                placeholder="TICKET-1234 one-way audio"
              />
              <span className={`help${label.length >= LABEL_MAX_LENGTH ? ' error' : ''}`} data-testid="label-counter">
                {label.length}/{LABEL_MAX_LENGTH}
              </span>
            </Field>
            <Field
              label="Duration (seconds)"
              help={`The capture stops by itself after this long (at most ${DURATION_MAX_SECONDS} s = 24 h).`}
              error={errors.duration_seconds}
            >
              <input name="duration_seconds" inputMode="numeric" value={duration} onChange={(e) => setDuration(e.target.value)} />
              <span className="presets">
                {[300, 900, 3600, 86400].map((s) => (
                  <button type="button" key={s} className="chip" onClick={() => setDuration(String(s))}>
                    {s < 3600 ? `${s / 60} min` : `${s / 3600} h`}
                  </button>
                ))}
              </span>
            </Field>
            <fieldset className={errors.criteria ? 'has-error' : ''}>
              <legend>Criteria</legend>
              <p className="help">
                A message is captured when every criterion you fill in matches; then its whole dialog is captured. Fill at least one of{' '}
                {SEARCH_CRITERIA.join(', ')}.
              </p>
              {errors.criteria && (
                <div className="error field-error" role="alert" data-testid="criteria-error">
                  {errors.criteria}
                </div>
              )}
              {CRITERIA.map((c) => (
                <Field key={c.key} label={c.label} help={c.help} error={errors[c.key]}>
                  <input
                    name={c.key}
                    value={criteria[c.key] ?? ''}
                    placeholder={c.placeholder}
                    onChange={(e) => setCriteria({ ...criteria, [c.key]: e.target.value })}
                  />
                </Field>
              ))}
            </fieldset>
          </div>
          <div>
            <fieldset>
              <legend>What to keep</legend>
              <label className="check">
                <input type="checkbox" name="capture_rtp" checked={rtp} onChange={(e) => setRtp(e.target.checked)} /> RTP/RTCP: media
                samples and per-stream quality (loss, jitter, MOS)
              </label>
              <label className="check">
                <input type="checkbox" name="capture_pcap" checked={pcap} onChange={(e) => setPcap(e.target.checked)} /> PCAP: keep the
                original packets for the export.tar (one .pcap per agent)
              </label>
            </fieldset>
            <fieldset className={errors.agents ? 'has-error' : ''} data-testid="agents-fieldset">
              <legend>Agents</legend>
              {agents.loading && !agents.data && <p className="muted">Loading agents…</p>}
              {agents.error && <p className="error">Could not load the agents: {agents.error.message}</p>}
              {agents.data && agentList.length === 0 && <p className="empty">No agents registered yet. Add one on the Agents page.</p>}
              {allTags.length > 0 && (
                <div className="tags">
                  <span className="muted">By tag:</span>
                  {allTags.map(([tag, members]) => (
                    <button
                      type="button"
                      key={tag}
                      className={`chip${tags.includes(tag) ? ' on' : ''}`}
                      aria-pressed={tags.includes(tag)}
                      onClick={() => setTags(toggle(tags, tag))}
                      title={`selects ${members.map((a) => a.name).join(', ')}`}
                    >
                      {tag} <span className="chip-members">→ {members.filter((a) => a.enabled).map((a) => a.name).join(', ') || 'no enabled agent'}</span>
                    </button>
                  ))}
                </div>
              )}
              {agentList.map((a) => (
                <label key={a.id} className={`check${a.enabled ? '' : ' disabled'}`}>
                  <input
                    type="checkbox"
                    name="agent"
                    value={a.id}
                    disabled={!a.enabled}
                    checked={agentIds.includes(a.id) || selectedByTags.has(a.id)}
                    onChange={() => setAgentIds(toggle(agentIds, a.id))}
                  />{' '}
                  {a.name} <span className={`dot ${a.status}`} title={a.status} /> <span className="muted small">{a.tags.join(', ')}</span>
                  {selectedByTags.has(a.id) && !agentIds.includes(a.id) && <span className="muted small"> (by tag)</span>}
                  {!a.enabled && <span className="muted small"> (disabled)</span>}
                </label>
              ))}
              {errors.agents && (
                <div className="error field-error" role="alert">
                  {errors.agents}
                </div>
              )}
            </fieldset>
            {errors.form && (
              <p className="error" role="alert">
                {errors.form}
              </p>
            )}
            <button type="submit" disabled={busy} data-testid="start-capture">
              {busy ? 'Starting…' : 'Start capture'}
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
