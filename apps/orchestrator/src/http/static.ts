/**
 * The dashboard's files (apps/orchestrator/public), read once at start and served from memory with a strict
 * Content-Security-Policy: the page loads nothing from anywhere but the orchestrator itself.
 */
import { readdir, readFile } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** public/ sits beside src/ and dist/, so this resolves from either. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))

export class StaticAssets {
  private constructor(private readonly files: ReadonlyMap<string, { type: string; body: Buffer }>) {}

  static async load(dir: string = PUBLIC_DIR): Promise<StaticAssets> {
    const files = new Map<string, { type: string; body: Buffer }>()
    for (const name of await readdir(dir)) {
      const type = TYPES[extname(name)]
      if (type !== undefined) files.set(name, { type, body: await readFile(join(dir, name)) })
    }
    return new StaticAssets(files)
  }

  has(name: string): boolean {
    return this.files.has(name)
  }

  send(res: ServerResponse, name: string): void {
    const f = this.files.get(name)!
    res.writeHead(200, {
      'content-type': f.type,
      'content-length': f.body.length,
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer'
    })
    res.end(f.body)
  }
}
