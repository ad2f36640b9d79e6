/**
 * Bounded churn soak (docs/reliability.md item 22), ~60 s: 12 libp2p nodes on TCP loopback in three processes
 * (bench/p2p/soak-harness.ts): a bootstrap node, 5 honest seeders of which one restarts every 4 s, 4 malicious
 * seeders (bit flips, truncation, a stall mid-chunk, resets), a long-lived honest seeder in a process of its own,
 * and a client downloading NARs with the swarm downloader, two at a time, for 60 s. The longer run is
 * `pnpm bench p2p-soak`.
 */
import assert from 'node:assert/strict'
import { formatReport, runSoak } from '../bench/p2p/soak-harness.js'

/** File descriptors the client or the long-lived seeder may gain after the warm-up (a redialled connection). */
const FD_SLACK = 24
/**
 * The swarm process holds ten nodes; each restart of the churn seeder reconnects it to the others (two descriptors
 * per connection inside one process) and reopens its level datastore, so its count swings by ~30-40.
 */
const FD_SLACK_SWARM = 64
/** Heap growth per minute (after a forced GC) above which the soak calls it a leak. */
const HEAP_SLOPE_MIB_PER_MIN = 8

describe('churn soak: many seeders, some malicious, one restarting, a client downloading for 60 s', function () {
  this.timeout(180_000)

  it('every download completes bit-exact; memory and file descriptors stay flat', async () => {
    const report = await runSoak({
      durationMs: 60_000,
      warmupMs: 15_000,
      nars: { count: 12, maxBytes: 2 * 1024 * 1024 },
      honest: 4,
      malicious: ['bitflip', 'truncate', 'stall-mid-chunk', 'reset'],
      restartEveryMs: 4000,
      concurrency: 2,
      stallTimeoutMs: 2000,
      downloadTimeoutMs: 30_000
    })
    for (const line of formatReport(report)) console.log(`      ${line}`)
    assert.ok(report.downloads >= 10, `only ${report.downloads} downloads in 60 s`)
    assert.ok(report.restarts >= 3, `the churn seeder restarted ${report.restarts} times`)
    assert.deepEqual(report.exited, [])
    assert.deepEqual(report.failures, {})
    assert.equal(report.successRate, 1)
    assert.equal(report.badChunksAccepted, 0)
    assert.equal(report.honestBanned, 0)
    assert.ok(report.badChunksDetected > 0, 'the bit-flipping seeder was met and caught')
    for (const [name, s] of Object.entries({
      client: report.client,
      seeder: report.seeder,
      swarm: report.swarm
    })) {
      const slack = name === 'swarm' ? FD_SLACK_SWARM : FD_SLACK
      assert.ok(s.fds.max - s.fds.first <= slack, `${name} fds ${s.fds.first} → max ${s.fds.max}`)
      assert.ok(
        s.heapSlopeMiBPerMin < HEAP_SLOPE_MIB_PER_MIN,
        `${name} heap slope ${s.heapSlopeMiBPerMin.toFixed(2)} MiB/min`
      )
    }
  })
})
