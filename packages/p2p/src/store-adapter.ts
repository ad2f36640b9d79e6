/**
 * The local store (@narthex/store) seen through the network layer's interfaces: what a seeder serves
 * (ChunkSource) and where a download writes (ChunkSink).
 */
import type { CID } from '@narthex/content'
import type { Store } from '@narthex/store'
import type { ChunkSink, ChunkSource } from './interfaces.js'

/** Serve from a store. A chunk the store finds corrupt (and quarantines) is answered NOT_FOUND. */
export function chunkSourceFromStore(store: Store): ChunkSource {
  return {
    hasNar: (narCid: CID) => store.hasNar(narCid),
    getManifest: async (narCid: CID) => (await store.getManifest(narCid))?.bytes,
    getChunk: async (cid: CID, options) => {
      try {
        return await store.getChunk(cid, options)
      } catch {
        return undefined
      }
    }
  }
}

/** Download into a store: chunks are put as they arrive, the NAR committed (with its narinfo, if given) at the end. */
export function chunkSinkFromStore(
  store: Store,
  commit: { narinfo?: string; pin?: boolean } = {}
): ChunkSink {
  return {
    hasChunk: (cid) => store.hasChunk(cid),
    getChunk: async (cid, options) => {
      try {
        return await store.getChunk(cid, options)
      } catch {
        return undefined // corrupt: quarantined by the store; the downloader fetches it again
      }
    },
    putChunk: async (cid, bytes, options) => {
      await store.putChunk(cid, bytes, options)
    },
    commitNar: async (_narCid, manifestBytes, options) => {
      await store.commitNar(manifestBytes, { ...commit, ...options })
    }
  }
}
