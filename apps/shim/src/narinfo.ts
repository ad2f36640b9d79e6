/**
 * The few narinfo fields the shim needs, read from a narinfo text that it otherwise passes through unchanged.
 *
 * The shim never re-signs and never rewrites a narinfo's signed fields (StorePath, NarHash, NarSize, References).
 * It checks the fields it depends on: StorePath (its hash part must be the one asked for), NarHash, NarSize,
 * References, URL and Compression.
 *
 * TODO(narinfo): switch to `parseNarInfo` from @narthex/nix once it lands on main; this reader only exists so the
 * shim could be written in parallel with it.
 */
import { formatHash, parseBaseName, parseHash, parseStorePath } from '@narthex/nix'
import { InvalidNarinfoError } from './errors.js'

export interface NarinfoFields {
  readonly storePath: string
  readonly hashPart: string
  readonly url: string
  /** `none` when the narinfo says so; Nix's default (bzip2) when the field is absent. */
  readonly compression: string
  /** `sha256:<nix32>`, normalised from whatever form the narinfo used. */
  readonly narHash: string
  readonly narSize: number
  /** Base names `<hash>-<name>`. */
  readonly references: readonly string[]
}

const ONCE = new Set(['StorePath', 'URL', 'Compression', 'NarHash', 'NarSize', 'References', 'CA'])

export function readNarinfo(text: string): NarinfoFields {
  const fields = new Map<string, string>()
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    if (line === '') return
    const colon = line.indexOf(': ')
    if (colon <= 0) throw new InvalidNarinfoError(`narinfo line ${i + 1} is not "Key: value"`)
    const key = line.slice(0, colon)
    if (ONCE.has(key) && fields.has(key)) {
      throw new InvalidNarinfoError(`narinfo line ${i + 1}: field ${key} appears twice`)
    }
    if (!fields.has(key)) fields.set(key, line.slice(colon + 2))
  })
  const need = (key: string): string => {
    const v = fields.get(key)
    if (v === undefined || v === '') throw new InvalidNarinfoError(`narinfo has no ${key}`)
    return v
  }
  try {
    const storePath = need('StorePath')
    const { hashPart } = parseStorePath(storePath)
    const narHash = formatHash(parseHash(need('NarHash'), 'sha256'))
    const sizeText = need('NarSize')
    if (!/^[1-9][0-9]{0,15}$/.test(sizeText)) throw new InvalidNarinfoError(`bad NarSize ${sizeText}`)
    const narSize = Number(sizeText)
    if (!Number.isSafeInteger(narSize)) throw new InvalidNarinfoError(`NarSize ${sizeText} is too large`)
    const refsText = fields.get('References') ?? ''
    const references = refsText === '' ? [] : refsText.split(' ')
    for (const r of references) parseBaseName(r)
    return {
      storePath,
      hashPart,
      url: need('URL'),
      compression: fields.get('Compression') ?? 'bzip2',
      narHash,
      narSize,
      references
    }
  } catch (err) {
    if (err instanceof InvalidNarinfoError) throw err
    throw new InvalidNarinfoError(`invalid narinfo: ${(err as Error).message}`)
  }
}

/** The file name of a NAR in the shim's URL space and the local cache: the NarHash's nix-base32 digest. */
export function narFileKey(narHash: string): string {
  return narHash.slice('sha256:'.length)
}
