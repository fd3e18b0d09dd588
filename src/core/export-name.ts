// File names of what a ticket gets (the UI's PNG and SVG, the center's dialog.pcap): the session label
// and, for one call, its Call-ID, so a download says what it is.
/** `<label>-<call>-<id>.<ext>`: the session label and, when one call is shown, its Call-ID, made safe as a file name. */
export function exportName(label: string, id: string, callId: string | null, ext: string): string {
  const safe = (s: string, max: number): string => s.trim().replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, max);
  const l = safe(label, 60);
  const c = callId === null ? '' : safe(callId, 60);
  return `${l === '' ? 'session' : l}${c === '' ? '' : `-${c}`}-${id}.${ext}`;
}
