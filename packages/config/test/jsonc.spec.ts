import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseJsonc, stripComments } from '../src/index.js'

/** `value` as JSONC with a comment of each kind around every element and a trailing comma in every container. */
function withComments(value: unknown): string {
  if (Array.isArray(value))
    return `[ /* [ */ ${value.map((v) => `${withComments(v)} // ,\n`).join(', ')}${value.length > 0 ? ',' : ''} ]`
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).map(
      ([k, v]) => `/* "${k.replace(/\*\//g, '')}": */ ${JSON.stringify(k)} // "x",\n : ${withComments(v)}`
    )
    return `{ ${fields.join(',\n')}${fields.length > 0 ? ',' : ''} }`
  }
  return JSON.stringify(value)
}

describe('JSONC', () => {
  it('strips line and block comments and keeps strings that look like them (URLs)', () => {
    const text = `{
  // the orchestrator
  "orchestrator": "https://orchestrator.example", // where agreed narinfos come from
  /* a block
     over two lines */ "upstream": ["http://a/*b*/c", "d//e"],
  "quote": "a \\"// not a comment",
  "backslash": "c:\\\\" // a comment after a string ending in a backslash
}`
    assert.deepEqual(parseJsonc(text), {
      orchestrator: 'https://orchestrator.example',
      upstream: ['http://a/*b*/c', 'd//e'],
      quote: 'a "// not a comment',
      backslash: 'c:\\'
    })
  })

  it('keeps every offset and line, so errors point into the original text', () => {
    const text = '{\n  "a": 1, // one\n  /* two */ "b": [2,],\n}'
    const stripped = stripComments(text)
    assert.equal(stripped.length, text.length)
    assert.deepEqual(
      stripped.split('\n').map((l) => l.length),
      text.split('\n').map((l) => l.length)
    )
    assert.deepEqual(JSON.parse(stripped), { a: 1, b: [2] })
  })

  it('accepts trailing commas, but not a comma inside a string before a brace', () => {
    assert.deepEqual(parseJsonc('{ "a": [1, 2, ], "b": ",}", }'), { a: [1, 2], b: ',}' })
    assert.deepEqual(parseJsonc('[ 1, // last\n /* gone */ ]'), [1])
  })

  it('reports syntax errors with line and column as ConfigSyntaxError', () => {
    assert.throws(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}'), {
      name: 'ConfigSyntaxError',
      line: 3,
      column: 3
    })
    assert.throws(() => parseJsonc('{ "a": 1 /* open'), { name: 'ConfigSyntaxError', line: 1, column: 10 })
    assert.throws(() => parseJsonc('{ "a": }'), { name: 'ConfigSyntaxError' })
    assert.throws(() => parseJsonc(''), { name: 'ConfigSyntaxError' })
    assert.throws(() => parseJsonc('{ "a": "unterminated // x\n }'), { name: 'ConfigSyntaxError' })
  })

  it('accepts a byte-order mark', () => {
    assert.deepEqual(parseJsonc('\ufeff{"a": 1}'), { a: 1 })
  })

  it('leaves plain JSON untouched, whatever its strings hold (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v, null, 2)
        assert.equal(stripComments(text), text)
        assert.deepEqual(parseJsonc(text), JSON.parse(text))
      }),
      { numRuns: 300 }
    )
  })

  it('reads any JSON value back through comments and trailing commas (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = withComments(v)
        assert.deepEqual(parseJsonc(text), JSON.parse(JSON.stringify(v)))
      }),
      { numRuns: 300 }
    )
  })
})
