/**
 * Writing a schema out for people: the reference table of docs/configuration.md and a commented example file
 * (JSONC) per program. Both are generated (`pnpm docs:config`) and a test fails when the committed files differ.
 * The output is laid out as Biome formats Markdown and JSON, so formatting the files changes nothing.
 */
import type { Schema, Setting } from './schema.js'

/** A JSON value on one line, with a space after commas and inside braces (as Biome writes short values). */
export function formatJsonInline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatJsonInline).join(', ')}]`
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${formatJsonInline(v)}`)
    return fields.length === 0 ? '{}' : `{ ${fields.join(', ')} }`
  }
  return JSON.stringify(value)
}

// biome-ignore lint/suspicious/noExplicitAny: any setting
type AnySetting = Setting<any, any>

/** How the reference states a key's default. */
export function formatDefault(spec: AnySetting): string {
  if (spec.required !== undefined) return 'required'
  if (spec.defaultText !== undefined) return spec.defaultText
  if (spec.default === undefined) return 'none'
  return `\`${formatJsonInline(spec.kind.format(spec.default))}\``
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** A Markdown table with padded columns, as Biome formats it. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((r) => r.map(cell))
  const width = header.map((_, i) => Math.max(3, ...all.map((r) => [...r[i]!].length)))
  const line = (r: readonly string[]): string =>
    `| ${r.map((c, i) => c + ' '.repeat(width[i]! - [...c].length)).join(' | ')} |`
  return [
    line(all[0]!),
    `| ${width.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...all.slice(1).map(line)
  ].join('\n')
}

/** The reference table of a schema: key, kind, default, flags, description (what it does and why the default). */
export function formatReference(schema: Schema): string {
  return formatTable(
    ['key', 'kind', 'default', 'flag', 'description'],
    Object.entries(schema).map(([key, spec]) => [
      `\`${key}\``,
      spec.kind.name,
      formatDefault(spec),
      (spec.flags ?? []).map((f) => `\`${f}\``).join(', '),
      spec.description
    ])
  )
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}

export interface ExampleOptions {
  /** Comment lines above the object (the program, where the reference is). */
  readonly header: readonly string[]
  /** Line width to wrap comments at (Biome's: 110). */
  readonly width?: number
}

/**
 * A commented example configuration (JSONC): every key with its description, kind and default as comments; keys
 * with an example are set to it, the others are shown commented out with their default.
 */
export function formatExample(schema: Schema, { header, width = 110 }: ExampleOptions): string {
  const entries = Object.entries(schema)
  const lastActive = entries.reduce((last, [, spec], i) => (spec.example !== undefined ? i : last), -1)
  const out = header.flatMap((h) => wrap(h, width - 3).map((l) => `// ${l}`))
  out.push('{')
  entries.forEach(([key, spec], i) => {
    if (i > 0) out.push('')
    const needed =
      spec.required === undefined ? `Default: ${formatDefault(spec).replace(/`/g, '')}.` : 'Required.'
    const about = `${spec.description} Kind: ${spec.kind.name}. ${needed}`
    const flags =
      spec.flags === undefined || spec.flags.length === 0 ? '' : ` Flag: ${spec.flags.join(', ')}.`
    for (const l of wrap(about + flags, width - 5)) out.push(`  // ${l}`)
    if (spec.example !== undefined) {
      const comma = i < lastActive ? ',' : ''
      const line = `  ${JSON.stringify(key)}: ${formatJsonInline(spec.example)}${comma}`
      if (line.length <= width || !Array.isArray(spec.example)) out.push(line)
      else {
        // Too long for one line: one item per line, as Biome lays it out.
        const items = spec.example as readonly unknown[]
        out.push(`  ${JSON.stringify(key)}: [`)
        items.forEach((v, j) => {
          out.push(`    ${formatJsonInline(v)}${j < items.length - 1 ? ',' : ''}`)
        })
        out.push(`  ]${comma}`)
      }
    } else if (spec.default !== undefined) {
      out.push(`  // ${JSON.stringify(key)}: ${formatJsonInline(spec.kind.format(spec.default))}`)
    } else out.push(`  // ${JSON.stringify(key)}: (not set)`)
  })
  out.push('}')
  return `${out.join('\n')}\n`
}
