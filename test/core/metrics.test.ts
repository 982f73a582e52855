import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../../src/core/config.js'
import { createMetrics } from '../../src/core/metrics.js'

/** The value of an unlabelled sample in Prometheus text output. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  if (!m) throw new Error(`${name} not in the metrics output`)
  return Number(m[1])
}
function blockFor(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // a handler that never yields: what a stall looks like to the event loop
  }
}

t.test('gateway_event_loop_busy_seconds_total counts time the loop was busy, not time it waited', async (t) => {
  const { registry } = createMetrics({ eventLoopDelaySampleMs: 1000 })
  const first = sample(await registry.metrics(), 'gateway_event_loop_busy_seconds_total')
  blockFor(300)
  const afterBusy = sample(await registry.metrics(), 'gateway_event_loop_busy_seconds_total')
  t.ok(afterBusy - first >= 0.29, `300 ms of blocking adds at least 0.29 s (added ${(afterBusy - first).toFixed(3)})`)
  await sleep(300)
  const afterIdle = sample(await registry.metrics(), 'gateway_event_loop_busy_seconds_total')
  t.ok(afterIdle - afterBusy < 0.15, `300 ms asleep adds almost nothing (added ${(afterIdle - afterBusy).toFixed(3)})`)
})

t.test('the event-loop lag gauges sample at the configured period and see a stall longer than it', async (t) => {
  const { registry } = createMetrics({ eventLoopDelaySampleMs: 20 })
  await registry.metrics() // resets the lag histogram
  await sleep(100)
  blockFor(150)
  await sleep(50)
  const max = sample(await registry.metrics(), 'gateway_nodejs_eventloop_lag_max_seconds')
  t.ok(max >= 0.1, `a 150 ms stall shows as a lag of at least 100 ms (max ${max.toFixed(3)} s)`)
})

t.test('metrics.eventLoopDelaySampleMs defaults to 1 s and refuses a period under 10 ms', async (t) => {
  t.equal(loadConfig({ env: {} }).metrics.eventLoopDelaySampleMs, 1000)
  t.equal(loadConfig({ env: { GW_METRICS_EVENT_LOOP_DELAY_SAMPLE_MS: '50' } }).metrics.eventLoopDelaySampleMs, 50)
  t.throws(() => loadConfig({ env: { GW_METRICS_EVENT_LOOP_DELAY_SAMPLE_MS: '5' } }), { name: 'ConfigError', key: 'metrics.eventLoopDelaySampleMs' })
})
