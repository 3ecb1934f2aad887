/** Serves the bundled browser assets from dist/public (built by build-assets.ts), with ETags. */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.map': 'application/json',
};

/** Routes (URL path -> file under the public directory). Nothing else is served: no path traversal. */
export const publicRoutes: Record<string, string> = {
  '/': 'index.html',
  '/agent': 'agent.html',
  '/agent.css': 'agent.css',
  '/kefu-widget.js': 'kefu-widget.js',
  '/agent-console.js': 'agent-console.js',
};

export class StaticFiles {
  readonly #cache = new Map<string, { body: Buffer; etag: string; type: string }>();
  constructor(readonly dir: string) {}

  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const file = publicRoutes[path];
    if (!file) return false;
    let entry = this.#cache.get(file);
    if (!entry) {
      const body = await readFile(join(this.dir, file));
      entry = { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"`, type: TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' };
      this.#cache.set(file, entry);
    }
    if (req.headers['if-none-match'] === entry.etag) { res.writeHead(304).end(); return true; }
    // The widget is loaded cross-origin by host pages.
    res.writeHead(200, { 'content-type': entry.type, etag: entry.etag, 'cache-control': 'no-cache', 'access-control-allow-origin': '*' });
    res.end(req.method === 'HEAD' ? undefined : entry.body);
    return true;
  }
}
