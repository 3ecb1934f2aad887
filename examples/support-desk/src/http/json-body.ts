import type { IncomingMessage } from 'node:http';

/** Reads a small JSON request body; bounded so a hostile client cannot fill memory. */
export async function readJson(req: IncomingMessage, limit = 4096): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new RangeError(`body larger than ${limit} bytes`);
    chunks.push(c);
  }
  if (size === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}
