/** Helia for the bitswap comparison (bench only: helia is a dependency of bench/, never of a package). */
/** A Helia node on a minimal libp2p (TCP, noise, yamux, identify) for the bitswap comparison. */
export async function startHelia(listen: string[]) {
  const { createHelia } = await import('helia')
  const { tcp } = await import('@libp2p/tcp')
  const { noise } = await import('@chainsafe/libp2p-noise')
  const { yamux } = await import('@chainsafe/libp2p-yamux')
  const { identify } = await import('@libp2p/identify')
  const libp2p = {
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  }
  const helia = await createHelia({ libp2p: libp2p as never })
  await helia.start()
  return helia
}
