// MOS estimate for an RTP stream: a simplified ITU-T G.107 E-model (no echo, default room noise).
//
//   R     = R0 - Is - Id - Ie,eff + A      with R0 - Is = 93.2 (G.107 defaults), A = 0
//   Id    = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)           (Cole & Rosenbluth's fit of G.107's Id)
//   d     = one-way mouth-to-ear delay estimate in ms: packetisation (ptime, default 20 ms)
//           + jitter buffer (2 × mean interarrival jitter, at least 10 ms) + 10 ms network/codec
//   Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl)       (G.107 §7.6, BurstR = 1: random loss)
//   MOS   = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)         for 0 < R < 100 (G.107 Annex B)
//
// Ie and Bpl per codec come from ITU-T G.113 Appendix I (narrowband values; wideband codecs such as
// G.722 and Opus are scored on the same narrowband scale, so their MOS tops out at ≈4.4 like G.711).
// Without real one-way delay (RTCP round trip) this is an estimate for comparing streams, not a
// measurement.

export interface CodecImpairment {
  /** equipment impairment factor */
  ie: number;
  /** packet-loss robustness factor */
  bpl: number;
}

const IMPAIRMENTS: Record<string, CodecImpairment> = {
  pcmu: { ie: 0, bpl: 25.1 }, // G.711 with PLC (G.113 App. I)
  pcma: { ie: 0, bpl: 25.1 },
  g722: { ie: 0, bpl: 25.1 },
  g729: { ie: 11, bpl: 19 }, // G.729A + VAD
  g723: { ie: 15, bpl: 16.1 }, // G.723.1 6.3 kbit/s
  gsm: { ie: 20, bpl: 10 },
  ilbc: { ie: 10, bpl: 32 },
  opus: { ie: 0, bpl: 30 },
  speex: { ie: 11, bpl: 20 },
};

export function codecImpairment(codec: string | undefined): CodecImpairment {
  return IMPAIRMENTS[(codec ?? '').toLowerCase()] ?? { ie: 0, bpl: 25.1 };
}

export interface MosInput {
  codec?: string;
  /** loss ratio 0..1 */
  lossRatio: number;
  /** mean interarrival jitter in ms */
  jitterMs: number;
  /** packetisation time in ms (default 20) */
  ptimeMs?: number;
}

export function rFactor(i: MosInput): number {
  const { ie, bpl } = codecImpairment(i.codec);
  const ppl = Math.max(0, Math.min(1, i.lossRatio)) * 100;
  const ieEff = ie + ((95 - ie) * ppl) / (ppl + bpl);
  const d = (i.ptimeMs ?? 20) + Math.max(10, 2 * Math.max(0, i.jitterMs)) + 10;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  return 93.2 - id - ieEff;
}

export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
}

/** MOS rounded to 2 decimals. */
export function estimateMos(i: MosInput): number {
  return Math.round(mosFromR(rFactor(i)) * 100) / 100;
}
