/**
 * libp2p 3 calls `Promise.withResolvers` (ES2024, Node 22+). Node 20 lacks it; this is the only polyfill the
 * project needs (see docs/ARCHITECTURE.md). Imported first by the CLI entry point and the test setup.
 */
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new Promise<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}

export {}
