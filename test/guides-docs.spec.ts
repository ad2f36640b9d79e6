/**
 * The getting-started guides (docs/guides/*.md) against the CLI: every `narthex ...` command line they show (in code
 * blocks and inline code, `\` continuations joined) names a real command, and every `--flag` on it is one that
 * command's usage text lists. Relative links must point at files that exist, apart from the pages other parts of
 * the documentation add (PENDING).
 */
import assert from 'node:assert/strict'
import { access, readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import '../apps/cli/dist/polyfill.js'
// The built CLI (as the narthex() helper runs it): loading each command from dist is fast.
import { COMMANDS } from '../apps/cli/dist/main.js'
import { REPO_ROOT } from './util/index.js'

const GUIDES = join(REPO_ROOT, 'docs/guides')

/** Pages linked from the guides that are written elsewhere (services, status). */
const PENDING = new Set(['docs/status.md'])

/** Every `narthex ...` command line of a Markdown text: fenced code lines (continuations joined) and inline code. */
function commandLines(md: string): string[] {
  const lines: string[] = []
  let fenced = false
  let pending = ''
  for (const raw of md.split('\n')) {
    if (raw.startsWith('```')) {
      fenced = !fenced
      pending = ''
      continue
    }
    if (fenced) {
      const line = raw.replace(/^\s*#.*$/, '').trim()
      const joined = pending + line
      if (joined.endsWith('\\')) {
        pending = `${joined.slice(0, -1)} `
        continue
      }
      pending = ''
      for (const m of joined.matchAll(/(?:^|[;&|(]\s*)(narthex [^#;&|)]*)/g)) lines.push(m[1]!.trim())
      continue
    }
    for (const m of raw.matchAll(/`(narthex [^`]+)`/g)) lines.push(m[1]!)
  }
  return lines
}

/** The longest command name that prefixes the words after `narthex`. */
function commandOf(line: string): string | undefined {
  const words = line.split(/\s+/).slice(1)
  for (let n = Math.min(2, words.length); n >= 1; n--) {
    const name = words.slice(0, n).join(' ')
    if (name in COMMANDS) return name
  }
  return undefined
}

describe('docs/guides match the CLI', () => {
  it('every narthex command line names a command and only flags its usage lists', async () => {
    const files = (await readdir(GUIDES)).filter((f) => f.endsWith('.md'))
    assert.deepEqual(files.sort(), ['builder.md', 'nix-user.md', 'orchestrator.md', 'seeder.md'])
    const usage = new Map<string, string>()
    let checked = 0
    for (const file of files) {
      const md = await readFile(join(GUIDES, file), 'utf8')
      for (const line of commandLines(md)) {
        // `narthex status` is documented on its own page (another part adds it); `narthex x: ...` is a program's
        // output quoted in a guide.
        if (line.startsWith('narthex status') || /^narthex [a-z ]+:/.test(line)) continue // output, not a command
        const name = commandOf(line)
        assert.ok(name !== undefined, `${file}: "${line}" names no narthex command`)
        if (!usage.has(name)) {
          const mod = (await COMMANDS[name]!.load()) as { command: { usage: string } }
          usage.set(name, mod.command.usage)
        }
        for (const flag of line.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []) {
          if (flag === '--help') continue
          assert.match(
            usage.get(name)!,
            new RegExp(`${flag}(?![a-z0-9-])`),
            `${file}: narthex ${name} has no ${flag} ("${line}")`
          )
          checked++
        }
      }
    }
    assert.ok(checked > 30, `only ${checked} flags checked: is the extraction broken?`)
  })

  it('relative links point at files that exist', async () => {
    for (const file of await readdir(GUIDES)) {
      const md = await readFile(join(GUIDES, file), 'utf8')
      for (const m of md.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!
        if (/^[a-z]+:/.test(target)) continue
        const rel = join('docs/guides', target).replace(/\\/g, '/')
        const path = join(dirname(join(GUIDES, file)), target)
        if (PENDING.has(rel)) continue
        await access(path).catch(() => assert.fail(`${file}: link to ${target} (${rel}) points at nothing`))
      }
    }
  })
})
