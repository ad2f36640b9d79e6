// narthex orchestrator dashboard. Plain JavaScript, served by the orchestrator; talks only to its own JSON API
// (docs/api.md) and its event stream. Every value from the API is inserted as text, never as HTML.

const $ = (id) => document.getElementById(id)

/** Create an element: el('td', { class: 'num', title: 'x' }, child, 'text', ...). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k === 'dataset') Object.assign(node.dataset, v)
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return node
}

const state = {
  tab: 'disputed',
  query: null,
  open: new Set(),
  summary: null,
  lastRows: new Map()
}

async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } })
  if (!res.ok) throw new Error(`${path}: ${res.status}`)
  return res.json()
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

function baseName(path) {
  return path.slice(path.lastIndexOf('/') + 1)
}
function nameOf(path) {
  return baseName(path).slice(33)
}
function shortHash(h) {
  if (!h) return '–'
  const d = h.startsWith('sha256:') ? h.slice(7) : h
  return `${d.slice(0, 10)}…${d.slice(-4)}`
}
function shortCid(c) {
  return c ? `${c.slice(0, 10)}…${c.slice(-6)}` : '–'
}
function ago(ms) {
  if (!ms) return 'never'
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 5) return 'just now'
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}
function timeEl(ms) {
  return el(
    'time',
    { datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString(), dataset: { ts: ms } },
    ago(ms)
  )
}
function bytes(n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}
function colorFor(name) {
  // FNV-1a, so names that differ in one character still get clearly different hues.
  let h = 0x811c9dc5
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0
  return `hsl(${h % 360} 50% 44%)`
}
function avatar(name) {
  // Colour set through the CSSOM: the Content-Security-Policy forbids inline style attributes.
  const node = el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name))
  node.style.background = colorFor(name)
  return node
}
function initials(name) {
  const parts = name.split(/[^A-Za-z0-9]+/).filter(Boolean)
  const last = parts.length > 1 ? parts[parts.length - 1] : ''
  return ((parts[0]?.[0] ?? '?') + (/^\d+$/.test(last) ? last : (last[0] ?? parts[0]?.[1] ?? '')))
    .slice(0, 3)
    .toUpperCase()
}
function badge(status, contested) {
  if (status === 'agreed' && contested)
    return el(
      'span',
      { class: 'badge contested', title: 'Agreed; a builder disagrees since' },
      'agreed · contested'
    )
  return el('span', { class: `badge ${status}` }, status)
}

// ---------------------------------------------------------------------------------------------------------------
// Summary, builders, feed

function renderSummary(s) {
  state.summary = s
  $('c-total').textContent = s.outputs.total
  $('c-attestations').textContent = `${s.attestations} attestation${s.attestations === 1 ? '' : 's'}`
  $('c-agreed').textContent = s.outputs.agreed
  $('c-served').textContent = `${s.served} narinfo${s.served === 1 ? '' : 's'} served`
  $('c-pending').textContent = s.outputs.pending
  $('c-disputed').textContent = s.outputs.disputed
  $('c-rate').textContent =
    s.agreementRate === null ? '–' : `${(s.agreementRate * 100).toFixed(s.agreementRate === 1 ? 0 : 1)}%`
  $('c-rate-bar').style.width = `${s.agreementRate === null ? 0 : s.agreementRate * 100}%`
  for (const k of ['disputed', 'pending', 'agreed']) {
    const c = $(`t-${k}`)
    c.textContent = s.outputs[k]
    c.toggleAttribute('data-zero', s.outputs[k] === 0)
  }
  $('policy').textContent =
    `k = ${s.quorum} of ${s.builders} trusted builder${s.builders === 1 ? '' : 's'} · after agreement: ${s.afterAgreement}`
  $('orch-key').textContent = s.orchestratorKey
}

function renderBuilders(list) {
  const ul = $('builders')
  ul.replaceChildren(
    ...list.map((b) =>
      el(
        'li',
        { dataset: { builder: b.name } },
        avatar(b.name),
        el(
          'div',
          { class: 'who' },
          el('strong', { title: b.publicKey ?? '' }, b.name),
          el(
            'span',
            {},
            b.revoked
              ? el('span', { class: 'flag' }, 'revoked · ')
              : !b.trusted
                ? el('span', { class: 'flag' }, 'untrusted · ')
                : '',
            b.equivocations.length > 0
              ? el(
                  'span',
                  { class: 'flag', title: b.equivocations.join('\n') },
                  `equivocated on ${b.equivocations.length} · `
                )
              : '',
            'seen ',
            b.lastSeen ? timeEl(b.lastSeen) : 'never'
          )
        ),
        el(
          'div',
          { class: 'stats' },
          el('b', {}, b.attestations),
          ' attested',
          el('br'),
          el('b', {}, b.agreements),
          ' agreed'
        )
      )
    )
  )
  const active = list.filter((b) => b.trusted && !b.revoked).length
  $('builders-note').textContent = `${active} active`
}

function feedItem(a, fresh) {
  return el(
    'li',
    { class: fresh ? 'new' : '', dataset: { seq: a.seq } },
    el('span', { class: `pip ${a.status ?? 'pending'}`, title: a.status ?? '' }),
    el(
      'div',
      { class: 'what' },
      el('div', {}, el('strong', {}, a.builder), ' attested ', el('span', {}, nameOf(a.outPath))),
      el('div', { class: 'mono' }, shortHash(a.narHash))
    ),
    timeEl(a.receivedAt)
  )
}

function renderFeed(items) {
  $('feed').replaceChildren(...items.map((a) => feedItem(a, false)))
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs and details

async function loadOutputs() {
  const params = new URLSearchParams({ limit: '100' })
  if (state.query) params.set('q', state.query)
  else if (state.tab) params.set('status', state.tab)
  return api(`/api/v1/outputs?${params}`)
}

function renderOutputs(data) {
  const tbody = $('outputs')
  // Open details are kept across refreshes (a live update must not blank them while they load again); one is
  // loaded again only when its output changed.
  const details = new Map([...tbody.querySelectorAll('tr.detail')].map((d) => [d.dataset.detailFor, d]))
  const rows = []
  const previous = state.lastRows
  state.lastRows = new Map()
  for (const o of data.outputs) {
    const changed = previous.has(o.hashPart) && previous.get(o.hashPart) !== o.updatedAt
    state.lastRows.set(o.hashPart, o.updatedAt)
    const open = state.open.has(o.hashPart)
    const row = el(
      'tr',
      {
        class: `row${open ? ' open' : ''}${changed ? ' flash' : ''}`,
        dataset: { hash: o.hashPart, status: o.status },
        tabindex: '0',
        'aria-expanded': String(open),
        onclick: () => toggle(o.hashPart),
        onkeydown: (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault()
            toggle(o.hashPart)
          }
        }
      },
      el(
        'td',
        {},
        el(
          'div',
          { class: 'path' },
          el('span', { class: 'name', title: o.outPath }, nameOf(o.outPath)),
          el('span', { class: 'hash' }, o.hashPart)
        )
      ),
      el('td', {}, badge(o.status, o.contested)),
      el(
        'td',
        { class: 'hashcell', title: o.narHash ?? '' },
        o.claims > 1 ? `${o.claims} different results` : shortHash(o.narHash)
      ),
      el('td', { class: 'num' }, o.attestations),
      el('td', { class: 'num' }, timeEl(o.updatedAt))
    )
    rows.push(row)
    if (open) {
      let detail = details.get(o.hashPart)
      if (detail === undefined) {
        detail = $('detail-template').content.firstElementChild.cloneNode(true)
        detail.dataset.detailFor = o.hashPart
        fillDetail(detail.querySelector('.detail-body'), o.hashPart)
      } else if (detail.dataset.updatedAt !== String(o.updatedAt)) {
        fillDetail(detail.querySelector('.detail-body'), o.hashPart)
      }
      detail.dataset.updatedAt = String(o.updatedAt)
      rows.push(detail)
    }
  }
  tbody.replaceChildren(...rows)
  $('outputs-empty').hidden = data.outputs.length > 0
  $('outputs-empty').textContent = state.query
    ? 'No output or derivation matches.'
    : `No ${state.tab || ''} outputs yet.`.replace('  ', ' ')
}

function toggle(hashPart) {
  if (state.open.has(hashPart)) state.open.delete(hashPart)
  else state.open.add(hashPart)
  refreshOutputs()
}

function copyButton(text) {
  const button = el('button', { type: 'button' }, 'Copy')
  button.addEventListener('click', async (e) => {
    e.stopPropagation()
    try {
      await navigator.clipboard.writeText(text)
    } catch {
      const range = document.createRange()
      range.selectNodeContents(button.previousElementSibling)
      getSelection().removeAllRanges()
      getSelection().addRange(range)
    }
    button.textContent = 'Copied'
    setTimeout(() => {
      button.textContent = 'Copy'
    }, 1500)
  })
  return button
}

let fills = 0

/** Load an output's detail into `container`, replacing what it shows once loaded; the latest load wins. */
async function fillDetail(container, hashPart) {
  const fill = String(++fills)
  container.dataset.fill = fill
  let o
  try {
    o = await api(`/api/v1/outputs/${hashPart}`)
  } catch {
    if (container.dataset.fill !== fill) return
    container.replaceChildren(el('p', { class: 'note' }, 'Could not load this output.'))
    return
  }
  const claimIndex = new Map(
    o.claimList.map((c, i) => [c.narHash + c.narSize + c.manifestRoot + c.references.join(','), i])
  )
  const reference =
    o.claimList.find((c) => c.agreed) ??
    [...o.claimList].sort((a, b) => b.supporters.length - a.supporters.length)[0]
  const diff = (value, ref, text) => (value !== ref ? el('span', { class: 'diff' }, text) : text)
  const drvs = o.derivations.map((d) => `${d.drvPath}${d.outputName === 'out' ? '' : ` (${d.outputName})`}`)

  const facts = el(
    'dl',
    { class: 'kv' },
    el('dt', {}, 'Store path'),
    el('dd', {}, o.outPath),
    el('dt', {}, drvs.length > 1 ? 'Derivations' : 'Derivation'),
    el('dd', {}, drvs.join('\n')),
    ...(o.agreement
      ? [
          el('dt', {}, 'Agreed NarHash'),
          el('dd', {}, o.agreement.narHash),
          el('dt', {}, 'NarSize'),
          el('dd', {}, `${o.agreement.narSize} (${bytes(o.agreement.narSize)})`),
          el('dt', {}, 'Manifest root'),
          el('dd', {}, o.agreement.manifestRoot),
          el('dt', {}, 'Agreed by'),
          el('dd', {}, `${o.agreement.builders.join(', ')} · ${new Date(o.agreement.time).toLocaleString()}`),
          el('dt', {}, 'narinfo'),
          el(
            'dd',
            {},
            o.served
              ? el('a', { href: `/${o.hashPart}.narinfo` }, `/${o.hashPart}.narinfo`)
              : 'withdrawn (not served)'
          )
        ]
      : [])
  )

  const compare = el(
    'table',
    { class: 'compare' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, 'Builder'),
        el('th', {}, 'NarHash'),
        el('th', { class: 'num' }, 'NarSize'),
        el('th', {}, 'Manifest root'),
        el('th', { class: 'num' }, 'Refs'),
        el('th', { class: 'num' }, 'Attested')
      )
    ),
    el(
      'tbody',
      {},
      o.attestationList.map((a) => {
        const i = claimIndex.get(a.narHash + a.narSize + a.manifestRoot + a.references.join(',')) ?? 0
        const notes = []
        if (!a.counted) notes.push('not counted')
        if (o.equivocators.includes(a.builder)) notes.push('equivocating')
        return el(
          'tr',
          { dataset: { builder: a.builder } },
          el(
            'td',
            {},
            el(
              'span',
              { class: `claim-chip claim-${i % 6}`, title: `claim ${String.fromCharCode(65 + i)}` },
              String.fromCharCode(65 + i)
            ),
            el('strong', {}, a.builder),
            notes.length ? el('span', { class: 'muted' }, ` (${notes.join(', ')})`) : ''
          ),
          el(
            'td',
            { class: 'mono', title: a.narHash },
            diff(a.narHash, reference?.narHash, shortHash(a.narHash))
          ),
          el('td', { class: 'num' }, diff(a.narSize, reference?.narSize, String(a.narSize))),
          el(
            'td',
            { class: 'mono', title: a.manifestRoot },
            diff(a.manifestRoot, reference?.manifestRoot, shortCid(a.manifestRoot))
          ),
          el(
            'td',
            { class: 'num', title: a.references.join('\n') },
            diff(a.references.join(','), reference?.references.join(','), String(a.references.length))
          ),
          el('td', { class: 'num' }, timeEl(a.receivedAt))
        )
      })
    )
  )

  const parts = [
    el('div', {}, el('h3', {}, 'Output'), facts),
    el(
      'div',
      {},
      el('h3', {}, o.claimList.length > 1 ? "Builders' results side by side" : 'Attestations'),
      compare
    )
  ]
  if (o.status !== 'agreed' || o.contested) {
    const drv = o.derivations[0]?.drvPath ?? ''
    const cmd = `narthex build --check --orchestrator ${location.origin} --key ./builder.sec ${drv}`
    parts.push(
      el(
        'div',
        {},
        el('h3', {}, 'Rebuild and attest'),
        el('div', { class: 'cmd' }, el('code', {}, cmd), copyButton(cmd)),
        el(
          'p',
          { class: 'note' },
          o.status === 'disputed'
            ? 'Builders disagree: more independent rebuilds show which result is reproducible. Run this on a trusted builder (its key in place of ./builder.sec).'
            : `Needs ${Math.max(0, (state.summary?.quorum ?? 2) - Math.max(0, ...o.claimList.map((c) => c.supporters.length)))} more agreeing builder(s).`
        )
      )
    )
  }
  if (container.dataset.fill !== fill) return
  container.replaceChildren(...parts)
}

// ---------------------------------------------------------------------------------------------------------------
// Refresh and live updates

let refreshTimer = null
let refreshing = false
let again = false

async function refreshAll() {
  if (refreshing) {
    again = true
    return
  }
  refreshing = true
  try {
    const [summary, builders, outputs] = await Promise.all([
      api('/api/v1/summary'),
      api('/api/v1/builders'),
      loadOutputs()
    ])
    renderSummary(summary)
    renderBuilders(builders.builders)
    renderOutputs(outputs)
  } catch (err) {
    console.warn('refresh failed', err)
  } finally {
    refreshing = false
    if (again) {
      again = false
      scheduleRefresh()
    }
  }
}

async function refreshOutputs() {
  try {
    renderOutputs(await loadOutputs())
  } catch (err) {
    console.warn('refresh failed', err)
  }
}

function scheduleRefresh() {
  if (refreshTimer !== null) return
  refreshTimer = setTimeout(() => {
    refreshTimer = null
    refreshAll()
  }, 150)
}

function connect() {
  const live = $('live')
  const text = $('live-text')
  const source = new EventSource('/api/v1/events')
  source.addEventListener('open', () => {
    live.dataset.state = 'live'
    text.textContent = 'live'
    scheduleRefresh()
  })
  source.addEventListener('error', () => {
    live.dataset.state = source.readyState === EventSource.CLOSED ? 'offline' : 'connecting'
    text.textContent = source.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting'
  })
  source.addEventListener('attestation', (e) => {
    const a = JSON.parse(e.data)
    const feed = $('feed')
    feed.prepend(feedItem(a, true))
    while (feed.children.length > 60) feed.lastElementChild.remove()
    scheduleRefresh()
  })
  source.addEventListener('output', scheduleRefresh)
  source.addEventListener('equivocation', scheduleRefresh)
}

function setupTabs() {
  for (const button of $('tabs').querySelectorAll('button')) {
    button.addEventListener('click', () => {
      state.tab = button.dataset.status
      for (const b of $('tabs').querySelectorAll('button'))
        b.setAttribute('aria-selected', String(b === button))
      refreshOutputs()
    })
  }
}

function setupSearch() {
  const input = $('search')
  let timer = null
  const apply = () => {
    const q = input.value.trim()
    state.query = q.length > 0 ? q.slice(0, 300) : null
    $('search-note').hidden = state.query === null
    $('tabs').hidden = state.query !== null
    $('search-term').textContent = state.query ?? ''
    refreshOutputs()
  }
  input.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(apply, 200)
  })
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault()
    apply()
  })
  $('search-clear').addEventListener('click', () => {
    input.value = ''
    apply()
  })
}

setInterval(() => {
  for (const t of document.querySelectorAll('time[data-ts]')) t.textContent = ago(Number(t.dataset.ts))
}, 10_000)

setupTabs()
setupSearch()
api('/api/v1/attestations?limit=30')
  .then((r) => renderFeed(r.attestations))
  .catch(() => {})
refreshAll().then(() => {
  // Start on the most useful tab: disputes if any, else pending, else agreed.
  const s = state.summary
  if (s && s.outputs.disputed === 0) {
    const tab = s.outputs.pending > 0 ? 'pending' : s.outputs.agreed > 0 ? 'agreed' : 'disputed'
    $('tabs').querySelector(`[data-status="${tab}"]`).click()
  }
})
connect()
