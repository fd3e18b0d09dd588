// Reading what a peer sends, with a size limit: an agent (or anything at its URL) answering a status
// poll with hundreds of megabytes must cost the center at most `max` bytes, not the whole answer on
// every poll. A declared Content-Length over the limit is refused before reading; otherwise the body
// is read chunk by chunk and the stream cancelled as soon as the limit is passed.

export class AnswerTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`answer larger than the ${limit}-byte limit`);
    this.name = 'AnswerTooLarge';
  }
}

/** The body of `res` as UTF-8 text, or AnswerTooLarge once it passes `max` bytes. */
export async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new AnswerTooLarge(max);
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new AnswerTooLarge(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}
