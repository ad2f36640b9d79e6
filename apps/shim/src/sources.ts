/**
 * The interfaces the shim composes: where agreed narinfos come from, where NAR bytes come from, and who re-seeds
 * what the shim fetched. Production implementations: the orchestrator's HTTP API (orchestrator.ts), the swarm
 * downloader of @narthex/p2p, upstream HTTP binary caches (upstream.ts) and the chunk store.
 */

/** A narinfo the orchestrator signed, as it served it, with what the agreement record adds. */
export interface AgreedNarinfo {
  /** The narinfo text exactly as served (signed by the orchestrator; the shim never re-signs or edits it). */
  readonly text: string
  /** The agreed manifest root (a CID string), when the agreement record has one. */
  readonly manifestRoot?: string
}

export interface NarinfoSource {
  /**
   * The agreed narinfo of a store path hash part, or undefined when there is none (404). Throws when the answer
   * cannot be had (network, 5xx): the shim then answers from its cache or 404 without remembering the miss.
   */
  lookup(hashPart: string, opts?: { signal?: AbortSignal }): Promise<AgreedNarinfo | undefined>
}

/** What the shim knows about a NAR when it asks a source for it. */
export interface NarRequest {
  readonly storePath: string
  /** `sha256:<nix32>` */
  readonly narHash: string
  readonly narSize: number
  readonly manifestRoot?: string
  /** The agreed narinfo text, stored with the NAR in the local store. */
  readonly narinfo?: string
}

export interface NarFetch {
  /** The NAR's bytes in order, from offset 0. */
  readonly stream: AsyncIterable<Uint8Array>
  /**
   * True when every byte the stream yields has already been checked (chunks against the agreed manifest): the
   * shim may send it to Nix at once. False when only the whole NAR can be checked (against NarHash): the shim then
   * holds the bytes on disk until the end and sends nothing before the hash matches.
   */
  readonly verified: boolean
  /**
   * Bytes delivered so far by where they came from (`peer <id>`, `local store`), for `narthex status`. Without it
   * every byte counts as the source's own (`upstream <url>`).
   */
  origins?(): Readonly<Record<string, number>>
}

/** A place NAR bytes come from: the swarm, an upstream cache. */
export interface NarSource {
  /** For logs and docs: `swarm`, `upstream https://...`. */
  readonly name: string
  /**
   * Whether this source can probably deliver the NAR (providers found; an upstream has the same NarHash). Cheap
   * and bounded; used to decide whether to answer a narinfo at all.
   */
  has(req: NarRequest, opts?: { signal?: AbortSignal }): Promise<boolean>
  /**
   * Start fetching. Resolves once bytes are flowing (for a verified stream: once the first verified bytes are
   * there), so a source that cannot deliver fails here, before the shim has sent any header. Rejects with
   * NarNotFoundError when the source does not have the NAR, another typed error when it fails.
   */
  open(req: NarRequest, opts?: { signal?: AbortSignal }): Promise<NarFetch>
}

/** Re-seeding: told of every NAR the shim fetched, verified and put in its store (e.g. to announce it). */
export interface Reseeder {
  seed(req: NarRequest, opts?: { signal?: AbortSignal }): Promise<void>
}
