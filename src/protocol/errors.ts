// The protocol layer's one failure type. Parsers are pure and never throw past their API: they
// return a ParseError with a stable code and the byte offset where decoding stopped.

export interface ParseError {
  readonly ok: false;
  /** stable, machine-readable, e.g. `truncated`, `bad_magic`, `not_sip` */
  readonly code: string;
  /** byte offset (relative to the input given to the parser) where decoding failed */
  readonly offset: number;
  /** precise human message, e.g. "pcap record header truncated at byte 4120" */
  readonly message: string;
}

export const parseError = (code: string, offset: number, message: string): ParseError => ({
  ok: false,
  code,
  offset,
  message,
});

export const isParseError = (v: unknown): v is ParseError =>
  typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false && typeof (v as { code?: unknown }).code === 'string';
