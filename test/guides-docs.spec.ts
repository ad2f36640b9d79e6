/**
 * The getting-started guides (docs/guides/*.md) and docs/status.md against the CLI: every `narthex ...` command line
 * they show (in code blocks and inline code, `\` continuations joined) names a real command, and every `--flag` on
 * it is one that command's usage text lists or a global flag. Relative links must point at files that exist.
 */
import assert from 'node:assert/strict'
import { access, readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import '../apps/cli/dist/polyfill.js'
// The built CLI (as the narthex() helper runs it): loading each command from dist is fast.
import { COMMANDS } from '../apps/cli/dist/main.js'
import { REPO_ROOT } from './util/index.js'

const GUIDES = join(REPO_ROOT, 'docs/guides')

/** Pages checked besides the guides. */
const OTHERS = [join(REPO_ROOT, 'docs/status.md')]

/** Flags the dispatcher takes before or after any command (main.ts). */
const GLOBAL_FLAGS = new Set(['--log-format', '--log-level', '--quiet'])

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

/** A command line without the global flags (and their values) that may come before the command name. */
function withoutGlobalFlags(line: string): string {
  return line.replace(/\s--(?:log-format|log-level)(?:=|\s+)\S+|\s--quiet(?![\w-])/g, '')
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
    const guides = (await readdir(GUIDES)).filter((f) => f.endsWith('.md'))
    assert.deepEqual(guides.sort(), ['builder.md', 'nix-user.md', 'orchestrator.md', 'seeder.md'])
    const usage = new Map<string, string>()
    let checked = 0
    for (const file of [...guides.map((f) => join(GUIDES, f)), ...OTHERS]) {
      const md = await readFile(file, 'utf8')
      for (const line of commandLines(md)) {
        // `narthex x: ...` is a program's output quoted in a page, not a command.
        if (/^narthex [a-z ]+:/.test(line)) continue
        const name = commandOf(withoutGlobalFlags(line))
        assert.ok(name !== undefined, `${file}: "${line}" names no narthex command`)
        if (!usage.has(name)) {
          const mod = (await COMMANDS[name]!.load()) as { command: { usage: string } }
          usage.set(name, mod.command.usage)
        }
        for (const flag of line.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []) {
          if (flag === '--help' || GLOBAL_FLAGS.has(flag)) continue
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
    const files = [...(await readdir(GUIDES)).map((f) => join(GUIDES, f)), ...OTHERS]
    for (const file of files) {
      const md = await readFile(file, 'utf8')
      for (const m of md.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!
        if (/^[a-z]+:/.test(target)) continue
        const path = join(dirname(file), target)
        await access(path).catch(() => assert.fail(`${file}: link to ${target} points at nothing`))
      }
    }
  })
})
