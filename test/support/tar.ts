// Test support: the files of a tar (export.tar answers), by name.
import { Readable } from 'node:stream';
import tar from 'tar-stream';

export async function untar(body: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c) => parts.push(c as Buffer));
    stream.on('end', () => {
      files.set(h.name, Buffer.concat(parts));
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from([body]).pipe(ex);
  });
  return files;
}
