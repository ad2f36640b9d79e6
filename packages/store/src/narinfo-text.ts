/**
 * The few narinfo fields the store indexes by. The store keeps the narinfo text exactly as given (signatures
 * included) and reads only StorePath, NarHash and NarSize from it, to file it under its store path hash and check
 * that it describes the NAR it is stored with.
 */
import { formatSha256, parseSha256, parseStorePath } from '@narthex/nix'
import { InvalidNarinfoError } from './errors.js'

export interface NarinfoKey {
  readonly storePath: string
  readonly hashPart: string
  readonly narHash: string
  readonly narSize: number
}

export function readNarinfoKey(text: string): NarinfoKey {
  const fields = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const i = line.indexOf(': ')
    if (i <= 0)
      throw new InvalidNarinfoError(`narinfo line ${JSON.stringify(line.slice(0, 80))} is not "Key: value"`)
    const key = line.slice(0, i)
    if (key !== 'Sig' && fields.has(key)) throw new InvalidNarinfoError(`narinfo has two ${key} fields`)
    fields.set(key, line.slice(i + 2))
  }
  const need = (k: string): string => {
    const v = fields.get(k)
    if (v === undefined) throw new InvalidNarinfoError(`narinfo has no ${k} field`)
    return v
  }
  const storePath = need('StorePath')
  let hashPart: string
  let narHash: string
  try {
    hashPart = parseStorePath(storePath).hashPart
    narHash = formatSha256(parseSha256(need('NarHash')))
  } catch (err) {
    throw new InvalidNarinfoError(`narinfo: ${(err as Error).message}`)
  }
  const sizeText = need('NarSize')
  const narSize = Number(sizeText)
  if (!/^[1-9][0-9]*$/.test(sizeText) || !Number.isSafeInteger(narSize)) {
    throw new InvalidNarinfoError(`narinfo NarSize ${JSON.stringify(sizeText)} is not a positive integer`)
  }
  return { storePath, hashPart, narHash, narSize }
}
