/**
 * libp2p's TLS 1.3 handshake (https://github.com/libp2p/specs/blob/master/tls/tls.md), run by OpenSSL on the TCP
 * socket itself.
 *
 * `@libp2p/tls` hands `node:tls` a JavaScript duplex over the connection, so every TLS record crosses into
 * JavaScript twice: `node:tls` wraps a non-native stream in a `JSStreamSocket`, and each encrypted record is copied
 * out of OpenSSL, passed through the duplex to the TCP connection's `send()` and written from there (and the same
 * on the way in). When the connection under the handshake is a TCP socket, this encrypter gives `node:tls` that
 * socket, so records go between OpenSSL and the kernel in C++ and JavaScript sees only plaintext.
 *
 * The protocol id, certificate and ALPN muxer negotiation are `@libp2p/tls`'s (its `utils` export): peers running
 * either implementation interoperate (test/socket-tls.spec.ts checks both directions). Any other connection (not a
 * TCP socket) is handed to `@libp2p/tls` unchanged.
 *
 * Taking over the socket: `node:tls` installs its TLS layer as the listener of the socket's native handle, so the
 * TCP connection's own `data` handler never fires again. Bytes the connection had already read past the protocol
 * negotiation are fed to the TLS layer before anything newer. The TCP connection's inactivity timer keeps working:
 * `node:net` refreshes the timers of a socket's parents on every read and write of the TLS socket. Closing the TLS
 * socket closes the raw socket, which closes the TCP connection object as before.
 */
import { Socket } from 'node:net'
import { connect, createSecureContext, type SecureContext, TLSSocket, type TLSSocketOptions } from 'node:tls'
import type {
  ComponentLogger,
  ConnectionEncrypter,
  Logger,
  MultiaddrConnection,
  PrivateKey,
  SecureConnectionOptions,
  SecuredConnection,
  StreamMuxerFactory,
  Upgrader
} from '@libp2p/interface'
import { InvalidCryptoExchangeError, serviceCapabilities, TimeoutError } from '@libp2p/interface'
import { PROTOCOL, tls } from '@libp2p/tls'
import { generateCertificate, toMessageStream, verifyPeerCertificate } from '@libp2p/tls/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SocketTlsComponents {
  readonly privateKey: PrivateKey
  readonly logger: ComponentLogger
  readonly upgrader: Upgrader
}

/** The parts of @libp2p/tcp's connection this encrypter relies on (`socket` is a public field there). */
interface TcpConnection extends MultiaddrConnection {
  readonly socket?: unknown
  readonly readBuffer?: Uint8ArrayList
}

/** ALPN id libp2p uses for "no early muxer negotiation". */
const NO_EARLY_MUXER = 'libp2p'

class SocketTls implements ConnectionEncrypter {
  readonly protocol = PROTOCOL
  readonly [Symbol.toStringTag] = '@narthex/p2p/socket-tls'
  readonly [serviceCapabilities]: string[] = ['@libp2p/connection-encryption']
  private readonly log: Logger
  private readonly fallback: ConnectionEncrypter
  /** This node's certificate and TLS context, made on the first connection and used for every one after it. */
  private context: Promise<SecureContext> | undefined

  constructor(private readonly components: SocketTlsComponents) {
    this.log = components.logger.forComponent('narthex:p2p:socket-tls')
    this.fallback = tls()(components as never) as ConnectionEncrypter
  }

  /**
   * One certificate per node, as go-libp2p does: it binds a fresh P-256 key to this node's identity and is valid
   * for 100 years from an hour ago (@libp2p/tls's own), so nothing requires a new one per connection, and making
   * one on each end cost ~3.5 ms of CPU, almost half of a TLS connection's setup (docs/benchmarks.md,
   * "Connection setup": 14.8–16.4 ms per connection before, 8.3–8.8 after).
   */
  private secureContext(): Promise<SecureContext> {
    if (this.context === undefined) {
      this.context = generateCertificate(this.components.privateKey).then(
        ({ cert, key }) => createSecureContext({ cert, key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }),
        (err: Error) => {
          this.context = undefined
          throw err
        }
      )
    }
    return this.context
  }

  async secureInbound(
    connection: MultiaddrConnection,
    options?: SecureConnectionOptions
  ): Promise<SecuredConnection> {
    return this.secure(connection, true, options)
  }

  async secureOutbound(
    connection: MultiaddrConnection,
    options?: SecureConnectionOptions
  ): Promise<SecuredConnection> {
    return this.secure(connection, false, options)
  }

  private async secure(
    connection: TcpConnection,
    isServer: boolean,
    options?: SecureConnectionOptions
  ): Promise<SecuredConnection> {
    const raw = connection.socket
    if (
      !(raw instanceof Socket) ||
      (raw as unknown as { _handle: unknown })._handle == null ||
      raw.destroyed
    ) {
      return isServer
        ? this.fallback.secureInbound(connection, options)
        : this.fallback.secureOutbound(connection, options)
    }
    const log = connection.log?.newScope('socket-tls') ?? this.log
    // the muxers offered in the handshake (ALPN); none when the upgrader negotiates the muxer afterwards
    const earlyMuxers =
      options?.skipStreamMuxerNegotiation === true
        ? new Map<string, StreamMuxerFactory>()
        : this.components.upgrader.getStreamMuxers()
    let serverMuxer: StreamMuxerFactory | undefined
    const secureContext = await this.secureContext()
    options?.signal?.throwIfAborted()
    const tlsOptions: TLSSocketOptions = {
      secureContext,
      isServer,
      // libp2p certificates are self-signed; the peer is authenticated by verifyPeerCertificate below
      rejectUnauthorized: false,
      ALPNProtocols: [...earlyMuxers.keys(), NO_EARLY_MUXER],
      ALPNCallback: ({ protocols }) => {
        const muxer = protocols.find((p) => earlyMuxers.has(p))
        serverMuxer = muxer === undefined ? undefined : earlyMuxers.get(muxer)
        return muxer ?? (protocols.includes(NO_EARLY_MUXER) ? NO_EARLY_MUXER : undefined)
      }
    }

    // Bytes read past the protocol negotiation (a client's first flight) belong to TLS, before anything newer.
    const early = connection.readBuffer?.byteLength ? connection.readBuffer.sublist() : undefined
    if (early !== undefined) connection.readBuffer?.consume(early.byteLength)

    const socket = isServer
      ? new TLSSocket(raw, { ...tlsOptions, requestCert: true })
      : connect({ ...tlsOptions, socket: raw })
    if (early !== undefined) {
      // node:tls feeds the raw socket's own buffered bytes on the next tick; these come before any later read
      process.nextTick(() => {
        const ssl = (socket as unknown as { ssl?: { receive(buf: Uint8Array): void } | null }).ssl
        for (const buf of early) ssl?.receive(buf)
      })
    }

    // Every error of the TLS socket is caught until @libp2p/tls's message stream takes the socket over, and after a
    // failed handshake for good: one socket can emit several (node:tls forwards the raw socket's errors, and a
    // timeout destroys it with another), and one without a listener would crash the process.
    let failure: Error | undefined
    const onError = (err: Error): void => {
      failure ??= err
    }
    socket.on('error', onError)
    const onAbort = (): void => {
      socket.destroy(new TimeoutError('TLS handshake timed out'))
    }
    options?.signal?.addEventListener('abort', onAbort)
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secure', resolve)
        socket.once('error', reject)
        // a peer that hangs up mid-handshake emits no error
        socket.once('close', () =>
          reject(new InvalidCryptoExchangeError('connection closed during the TLS handshake'))
        )
      })
      // null once the socket is destroyed, empty when the peer sent none
      const certificate = socket.getPeerCertificate() as { raw?: Buffer } | null
      if (failure !== undefined) throw failure
      if (certificate?.raw == null) throw new InvalidCryptoExchangeError('the peer sent no certificate')
      const remotePeer = await verifyPeerCertificate(certificate.raw, options?.remotePeer, log)
      // the socket may have failed or closed while the certificate was being verified
      if (failure !== undefined) throw failure
      if (socket.destroyed) throw new InvalidCryptoExchangeError('connection closed during the TLS handshake')
      const streamMuxer = isServer ? serverMuxer : selectedMuxer(socket.alpnProtocol, earlyMuxers)
      // from here on @libp2p/tls's message stream owns the socket's errors and close
      const secured = toMessageStream(connection, socket)
      writeWholeMessages(secured, socket)
      socket.off('error', onError)
      return { remotePeer, connection: secured, streamMuxer }
    } catch (err) {
      log.error('securing %s connection failed - %e', connection.direction, err)
      socket.destroy()
      connection.abort(err as Error)
      throw err
    } finally {
      options?.signal?.removeEventListener('abort', onAbort)
    }
  }
}

/**
 * Make `secured` hand each message to the TLS socket whole, in one corked write, instead of one piece at a time.
 *
 * @libp2p/tls's message stream writes a message's pieces one by one and stops at the first `write` that returns
 * false, leaving the rest until the socket drains. A net socket's write buffer signals full at 16 KiB, so a yamux
 * data frame of ~1 MiB (its header, then a frame header and a ~64 KiB chunk, 16 times: 33 pieces) went to OpenSSL
 * one piece per `drain`, each a trip round the event loop and through the stream's send queue. Here every piece of
 * the message is written (it is bounded by the muxer's send window and the sender's own limits), corked so that
 * they reach OpenSSL together at the end of the tick, and a full buffer still tells the muxer to wait for `drain`.
 * Measured with `pnpm bench p2p-throughput --only "tls x2"` in three alternating pairs: 172–209 → 213–222 MB/s,
 * the seeders' CPU 4.0–4.5 → 3.2–3.4 CPU-s per GiB (docs/benchmarks.md).
 */
function writeWholeMessages(secured: ReturnType<typeof toMessageStream>, socket: TLSSocket): void {
  const sender = secured as unknown as {
    sendData?(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean }
  }
  // The abstract message stream's hook for one message; should a later @libp2p/tls not have it, its own way of
  // writing stays (packages/p2p/test/socket-tls.spec.ts then fails on the drains).
  if (typeof sender.sendData !== 'function') return
  sender.sendData = (data) => {
    socket.cork()
    let canSendMore = true
    for (const buf of data) canSendMore = socket.write(buf)
    process.nextTick(() => socket.uncork())
    return { sentBytes: data.byteLength, canSendMore }
  }
}

/** The muxer the server picked by ALPN, if any: the client offered only `earlyMuxers` and NO_EARLY_MUXER. */
function selectedMuxer(
  alpn: string | false | null,
  earlyMuxers: ReadonlyMap<string, StreamMuxerFactory>
): StreamMuxerFactory | undefined {
  if (typeof alpn !== 'string' || alpn === NO_EARLY_MUXER) return undefined
  const muxer = earlyMuxers.get(alpn)
  if (muxer === undefined) throw new InvalidCryptoExchangeError(`selected muxer ${alpn} does not exist`)
  return muxer
}

/** The TLS connection encrypter narthex nodes use: `@libp2p/tls` on the wire, OpenSSL on the socket. */
export function socketTls(): (components: SocketTlsComponents) => ConnectionEncrypter {
  return (components) => new SocketTls(components)
}
