import assert from 'node:assert/strict'
import { parseSize } from '../src/index.js'

describe('parseSize', () => {
  it('reads byte counts and binary units as quotas and rates are written', () => {
    const cases: Array<[unknown, number]> = [
      [0, 0],
      [1048576, 1048576],
      ['1048576', 1048576],
      ['500M', 500 * 2 ** 20],
      ['20GiB', 20 * 2 ** 30],
      ['20 gb', 20 * 2 ** 30],
      ['1.5T', 1.5 * 2 ** 40],
      [' 512k ', 512 * 1024]
    ]
    for (const [input, bytes] of cases) assert.equal(parseSize(input), bytes, JSON.stringify(input))
  })

  it('returns undefined for anything that is not a size', () => {
    for (const input of [
      -1,
      1.5,
      Number.NaN,
      2 ** 60,
      '',
      'M',
      '-5M',
      '5X',
      '5 MB extra',
      '99999999999T',
      null,
      {}
    ]) {
      assert.equal(parseSize(input), undefined, JSON.stringify(input))
    }
  })
})
