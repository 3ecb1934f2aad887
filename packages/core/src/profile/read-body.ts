/**
 * Reads an undici response body as JSON within a byte limit. Over the limit the body stream is
 * destroyed, which closes that connection rather than reading megabytes we will throw away.
 */
import { KefuError } from '@kefu/protocol';
import type { Dispatcher } from 'undici';

type Body = Dispatcher.ResponseData['body'];

export async function readJson(source: string, body: Body, contentLength: string | string[] | undefined, limit: number): Promise<unknown> {
  const declared = typeof contentLength === 'string' ? Number(contentLength) : NaN;
  if (declared > limit) {
    body.destroy();
    throw tooLarge(source, limit, declared);
  }
  if (declared >= 0) {
    // Framed by content-length: HTTP/1.1 cannot deliver more, so undici's own reader is safe and
    // cheaper than iterating chunks.
    return parse(source, await body.text(), declared);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw tooLarge(source, limit, size);
    }
    chunks.push(chunk);
  }
  return parse(source, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'), size);
}

function parse(source: string, text: string, bytes: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new KefuError('KEFU_ERR_PROFILE_BAD_RESPONSE', `profile source "${source}" answered a body that is not JSON`, {
      cause: err,
      details: { source, retryable: false, bytes },
    });
  }
}

function tooLarge(source: string, limit: number, seen: number): KefuError {
  return new KefuError('KEFU_ERR_PROFILE_RESPONSE_TOO_LARGE', `profile source "${source}" answered more than ${limit} bytes`, {
    details: { source, limit, seen, retryable: false },
  });
}
