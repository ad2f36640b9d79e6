/**
 * The signal that stops a long-running command (SIGINT or SIGTERM), listened for from the moment the command
 * starts: a supervisor (systemd, a test, a script) may send SIGTERM as soon as the "listening" line appears, or
 * while the program is still starting, and must get a clean stop (exit status 0), not Node's default death by
 * signal. Call it before starting anything; await `received` once started.
 */
export interface StopSignal {
  /** Resolves with the first SIGINT or SIGTERM received since `listenForStop()`. */
  readonly received: Promise<NodeJS.Signals>
  /** Remove the handlers (a second signal then ends the process the default way). */
  dispose(): void
}

export function listenForStop(): StopSignal {
  let onInt: () => void = () => {}
  let onTerm: () => void = () => {}
  const dispose = () => {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
  }
  const received = new Promise<NodeJS.Signals>((resolve) => {
    onInt = () => {
      dispose()
      resolve('SIGINT')
    }
    onTerm = () => {
      dispose()
      resolve('SIGTERM')
    }
  })
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  return { received, dispose }
}
