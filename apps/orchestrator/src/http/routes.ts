/**
 * The route table: every path the orchestrator answers, with a strict pattern. A path that matches no pattern is
 * 404; a path that matches with another method is 405 (with `Allow`). docs/api.md documents each route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OutputStatus } from '@narthex/consensus'
import {
  DEFAULT_LIST_LIMIT,
  MAX_BODY_BYTES,
  MAX_LIST_LIMIT,
  MAX_SEARCH_LENGTH,
  RECENT_ATTESTATIONS,
  STORE_DIR
} from '../constants.js'
import { errorResponse, InvalidRequestError, NotFoundError } from '../errors.js'
import type { Service } from '../service.js'
import { agreementView, builderView, outputSummaryView, outputView, storedAttestationView } from '../views.js'
import { readJson, sendJson, sendText } from './respond.js'
import type { EventStreams } from './sse.js'
import type { StaticAssets } from './static.js'

export interface P2PInfo {
  readonly peerId: string
  readonly multiaddrs: readonly string[]
  readonly protocol: string
}

export interface RouteContext {
  readonly service: Service
  readonly streams: EventStreams
  readonly assets: StaticAssets
  readonly cacheInfo: Buffer
  readonly p2p: () => P2PInfo | null
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly params: readonly string[]
  readonly query: URLSearchParams
}

export interface Route {
  readonly method: 'GET' | 'POST'
  /** Anchored pattern on the path (without the query string); groups become `params`. */
  readonly pattern: RegExp
  /** Label for metrics and logs. */
  readonly name: string
  /** The path as docs/api.md writes it in the route's heading (a test checks every route is documented). */
  readonly doc: string
  /** Query parameters the route accepts; any other is a 400. */
  readonly query?: readonly string[]
  readonly handle: (ctx: RouteContext) => void | Promise<void>
}

const HASH = '([0-9a-df-np-sv-z]{32})'
const STATUSES: ReadonlySet<string> = new Set(['pending', 'agreed', 'disputed'])

function limitParam(q: URLSearchParams, max = MAX_LIST_LIMIT): number {
  const raw = q.get('limit')
  if (raw === null) return Math.min(DEFAULT_LIST_LIMIT, max)
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new InvalidRequestError(`limit must be an integer from 1 to ${max}`)
  }
  return Number(raw)
}

function output(ctx: RouteContext) {
  const o = ctx.service.ledger.outputByHashPart(ctx.params[0]!)
  if (o === undefined)
    throw new NotFoundError(`no attestation names an output with hash part ${ctx.params[0]}`)
  return o
}

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    pattern: /^\/$/,
    name: 'dashboard',
    doc: '/',
    handle: (ctx) => ctx.assets.send(ctx.res, 'index.html')
  },
  {
    method: 'GET',
    pattern: /^\/assets\/([a-z0-9-]+\.(?:js|css|svg))$/,
    name: 'asset',
    doc: '/assets/<file>',
    handle: (ctx) => {
      if (!ctx.assets.has(ctx.params[0]!)) throw new NotFoundError('no such asset')
      ctx.assets.send(ctx.res, ctx.params[0]!)
    }
  },
  {
    method: 'GET',
    pattern: /^\/nix-cache-info$/,
    name: 'nix-cache-info',
    doc: '/nix-cache-info',
    handle: (ctx) => sendText(ctx.res, 200, 'text/x-nix-cache-info', ctx.cacheInfo)
  },
  {
    // The hot path is served before routing (server.ts); this entry documents it and serves HEAD.
    method: 'GET',
    pattern: new RegExp(`^/${HASH}\\.narinfo$`),
    name: 'narinfo',
    doc: '/<hashpart>.narinfo',
    handle: (ctx) => {
      const narinfo = ctx.service.narinfo(ctx.params[0]!)
      if (narinfo === undefined) throw new NotFoundError('no agreed output has this hash part')
      ctx.res.writeHead(200, narinfo.headers)
      ctx.res.end(narinfo.body)
    }
  },
  {
    method: 'GET',
    pattern: /^\/healthz$/,
    name: 'health',
    doc: '/healthz',
    handle: (ctx) => {
      const ok = !ctx.service.storageFailed
      sendJson(ctx.res, ok ? 200 : 503, { status: ok ? 'ok' : 'storage-failed' })
    }
  },
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    name: 'metrics',
    doc: '/metrics',
    handle: (ctx) =>
      sendText(ctx.res, 200, 'text/plain; version=0.0.4; charset=utf-8', ctx.service.metrics.format(), {
        'cache-control': 'no-store'
      })
  },
  {
    method: 'POST',
    pattern: /^\/api\/v1\/attestations$/,
    name: 'submit',
    doc: '/api/v1/attestations',
    handle: async (ctx) => {
      const body = await readJson(ctx.req, MAX_BODY_BYTES)
      const service = ctx.service
      if (Array.isArray(body)) {
        const results = await service.submitBatch(body)
        sendJson(ctx.res, 200, {
          results: results.map((r) =>
            'ok' in r
              ? {
                  result: r.ok.result,
                  seq: r.ok.seq,
                  outPath: r.ok.output.outPath,
                  status: r.ok.output.decision.status
                }
              : errorResponse(r.error).body
          )
        })
        return
      }
      const r = await service.submit(body)
      sendJson(ctx.res, r.result === 'accepted' ? 201 : 200, {
        result: r.result,
        seq: r.seq,
        output: outputSummaryView(r.output, service.isServed(r.output.hashPart))
      })
    }
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/attestations$/,
    name: 'recent-attestations',
    doc: '/api/v1/attestations?limit=N',
    query: ['limit'],
    handle: (ctx) => {
      const limit = limitParam(ctx.query, RECENT_ATTESTATIONS)
      sendJson(ctx.res, 200, {
        attestations: ctx.service.recent(limit).map((s) => ({
          ...storedAttestationView(s, ctx.service.isCounted(s.attestation.builder)),
          status: ctx.service.ledger.output(s.attestation.outPath)?.decision.status ?? 'pending'
        }))
      })
    }
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/outputs$/,
    name: 'outputs',
    doc: '/api/v1/outputs?status=S&q=TEXT&limit=N',
    query: ['status', 'q', 'limit'],
    handle: (ctx) => {
      const status = ctx.query.get('status')
      if (status !== null && !STATUSES.has(status)) {
        throw new InvalidRequestError('status must be pending, agreed or disputed')
      }
      const q = ctx.query.get('q')
      if (q !== null && (q.length === 0 || q.length > MAX_SEARCH_LENGTH)) {
        throw new InvalidRequestError(`q must be 1 to ${MAX_SEARCH_LENGTH} characters`)
      }
      const limit = limitParam(ctx.query)
      const { outputs, total } = ctx.service.listOutputs({ status: status as OutputStatus | null, q, limit })
      sendJson(ctx.res, 200, {
        total,
        outputs: outputs.map((o) => outputSummaryView(o, ctx.service.isServed(o.hashPart)))
      })
    }
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/v1/outputs/${HASH}$`),
    name: 'output',
    doc: '/api/v1/outputs/<hashpart>',
    handle: (ctx) => {
      const o = output(ctx)
      sendJson(
        ctx.res,
        200,
        outputView(o, ctx.service.isServed(o.hashPart), (b) => ctx.service.isCounted(b))
      )
    }
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/v1/agreements/${HASH}$`),
    name: 'agreement',
    doc: '/api/v1/agreements/<hashpart>',
    handle: (ctx) => {
      const found = ctx.service.agreementOf(ctx.params[0]!)
      if (found === undefined) throw new NotFoundError('no served agreement for this hash part')
      const { output: o, agreement } = found
      const supporting = o.attestations.filter(
        (s) =>
          s.claimKey === agreement.claimKey &&
          o.decision.support.get(agreement.claimKey)?.includes(s.attestation.builder)
      )
      sendJson(ctx.res, 200, {
        agreement: agreementView(agreement),
        narinfo: ctx.service.narinfo(o.hashPart)!.body.toString('utf8'),
        orchestratorKey: ctx.service.publicKey,
        attestations: supporting.map((s) => storedAttestationView(s, true))
      })
    }
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/v1/drvs/${HASH}-([A-Za-z0-9+\\-._?=]{1,207}\\.drv)$`),
    name: 'derivation',
    doc: '/api/v1/drvs/<hash>-<name>.drv',
    handle: (ctx) => {
      const drvPath = `${STORE_DIR}/${ctx.params[0]}-${ctx.params[1]}`
      const outputs = ctx.service.ledger.outputsOfDrv(drvPath)
      if (outputs.length === 0) throw new NotFoundError('no attestation names this derivation')
      sendJson(ctx.res, 200, {
        drvPath,
        outputs: outputs.map((o) => {
          const names = [
            ...new Set(
              o.attestations
                .filter((s) => s.attestation.drvPath === drvPath)
                .map((s) => s.attestation.outputName)
            )
          ]
          return { outputNames: names, ...outputSummaryView(o, ctx.service.isServed(o.hashPart)) }
        })
      })
    }
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/builders$/,
    name: 'builders',
    doc: '/api/v1/builders',
    handle: (ctx) => sendJson(ctx.res, 200, { builders: ctx.service.ledger.builders().map(builderView) })
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/summary$/,
    name: 'summary',
    doc: '/api/v1/summary',
    handle: (ctx) => sendJson(ctx.res, 200, ctx.service.summary(ctx.p2p()))
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/events$/,
    name: 'events',
    doc: '/api/v1/events',
    query: ['lastEventId'],
    handle: (ctx) => ctx.streams.open(ctx.req, ctx.res, ctx.query.get('lastEventId'))
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/p2p$/,
    name: 'p2p',
    doc: '/api/v1/p2p',
    handle: (ctx) => {
      const info = ctx.p2p()
      if (info === null) throw new NotFoundError('this orchestrator runs no libp2p node')
      sendJson(ctx.res, 200, info)
    }
  }
]
