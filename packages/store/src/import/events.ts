/** Progress events of imports, for progress bars (CLI on a terminal) or plain log lines. */

export type ImportEvent =
  /** About to import one store path (after reading its narinfo or path info). */
  | { readonly type: 'start'; readonly storePath: string; readonly narSize: number }
  | ImportProgress
  /** Imported (or already present: `created` 0 and `skipped` true). */
  | {
      readonly type: 'done'
      readonly storePath: string
      readonly narHash: string
      readonly narSize: number
      readonly chunkCount: number
      readonly created: number
      readonly skipped: boolean
    }

export interface ImportProgress {
  readonly type: 'progress'
  readonly storePath: string
  readonly bytes: number
  readonly total: number
}
