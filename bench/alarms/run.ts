/**
 * bench/alarms: 500 cameras sending 2,000 events/s for 60 s (BENCH_SECONDS, BENCH_RATE,
 * BENCH_CAMERAS) through AlarmIngest.ingest (the PullPoint path, realistic ONVIF messages), plus
 * one-button alarms through the real HTTP webhook (BENCH_ONE_BUTTON_RATE per second).
 * Figures: events/s absorbed (events resolved / (load seconds + backlog when the last was sent), so
 * at most the offered rate), cases opened, p50/p99 from event arrival to the case change on the
 * SSE push stream (a real HTTP client), one-button alarms lost.
 * Targets (issue 6): 2,000/s sustained, p99 ≤ 100 ms, zero one-button alarms lost.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { buildGateway } from '../../src/app.js'
import { loadConfig } from '../../src/core/config.js'
import { systemPrincipal } from '../../src/core/scope.js'
import type { OnvifEvent } from '../../src/lib/onvif/index.js'
import { report, summarize, type Figure } from '../lib/report.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
const RATE = Number(process.env.BENCH_RATE ?? 2000)
const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 500)
const ONE_BUTTON_RATE = Number(process.env.BENCH_ONE_BUTTON_RATE ?? 10)
const PASSWORD = 'bench-password-1'

const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-alarms-'))
const BATCH_WINDOW_MS = process.env.BENCH_BATCH_WINDOW_MS === undefined ? undefined : Number(process.env.BENCH_BATCH_WINDOW_MS)
const config = loadConfig({ env: {}, overrides: { dataDir, demo: false, log: { level: 'silent' }, ...(BATCH_WINDOW_MS === undefined ? {} : { alarms: { batchWindowMs: BATCH_WINDOW_MS } }) } })
const gateway = await buildGateway(config, { env: { GW_ADMIN_PASSWORD: PASSWORD } })
const { org, auth, registry, cases, ingest, db } = gateway.services
cases.setSnapshotSource(null) // measure the alarm path, not ffmpeg

const TOPICS: { topic: string; data: Record<string, string>; source: Record<string, string> }[] = [
  { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', data: { IsMotion: 'true' }, source: { VideoSourceConfigurationToken: 'vsc', VideoAnalyticsConfigurationToken: 'vac', Rule: 'MyMotionDetectorRule' } },
  { topic: 'tns1:VideoSource/MotionAlarm', data: { State: 'true' }, source: { Source: 'VideoSource_1' } },
  { topic: 'tns1:RuleEngine/LineDetector/Crossed', data: { ObjectId: '7' }, source: { Rule: 'Gate' } },
  { topic: 'tns1:RuleEngine/TamperDetector/Tamper', data: { IsTamper: 'true' }, source: { VideoSourceConfigurationToken: 'vsc' } },
]

try {
  const actor = systemPrincipal('bench')
  const street = org.create(actor, { parentId: null, tier: 'street', code: 'B-JD', name: 'bench street' })
  const stations = [1, 2, 3].map((i) => org.create(actor, { parentId: street.id, tier: 'police_station', code: `B-PCS${i}`, name: `station ${i}` }))
  const communities = Array.from({ length: 12 }, (_, i) => org.create(actor, { parentId: stations[i % 3]!.id, tier: 'community', code: `B-SQ${i}`, name: `community ${i}` }))
  const sites = Array.from({ length: 24 }, (_, i) => org.create(actor, { parentId: communities[i % 12]!.id, tier: 'site', code: `B-WY${i}`, name: `site ${i}` }))
  const placeable = [...communities, ...sites]
  const cameraIds: number[] = []
  db.transaction(() => {
    for (let i = 0; i < CAMERAS; i++) {
      const unit = placeable[i % placeable.length]!
      cameraIds.push(registry.create(actor, { unitId: unit.id, name: `cam ${i}`, class: unit.tier === 'site' ? 3 : 2, kind: 'fixed', device: { serial: `B-${i}` }, capabilities: { ptz: false, events: true } }).id)
    }
  })()
  await auth.seedUser({ username: 'bench.street', unitId: street.id, roles: ['patrol'], password: PASSWORD })
  const address = await gateway.app.listen({ port: 0, host: '127.0.0.1' })
  const login = async (username: string) =>
    ((await (await fetch(`${address}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) })).json()) as { token: string }).token
  const adminToken = await login('admin')
  const streetToken = await login('bench.street')
  const source = (await (await fetch(`${address}/api/alarm-sources`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench boxes', unitId: street.id }) })).json()) as { token: string }

  // --- the push stream: a real SSE client -------------------------------------------------------
  const pendingByCamera = new Map<number, number>() // camera → arrival time of its oldest event not yet seen on the stream
  const cameraLatencies: number[] = []
  const steadyLatencies: number[] = [] // after the warm-up (first 5 s: JIT, the first case of every camera)
  let loadStart = Infinity
  const caseSeenAt = new Map<number, number>() // case id → first time it appeared on the stream
  let streamEvents = 0
  const ac = new AbortController()
  const res = await fetch(`${address}/api/events/stream`, { headers: { authorization: `Bearer ${streetToken}` }, signal: ac.signal })
  const streamDone = (async () => {
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += decoder.decode(value, { stream: true })
        const blocks = buf.split('\n\n')
        buf = blocks.pop()!
        for (const block of blocks) {
          const line = block.split('\n').find((l) => l.startsWith('data: '))
          if (!line) continue
          const now = performance.now()
          streamEvents++
          const data = JSON.parse(line.slice(6)) as { type: string; case?: { id: number; cameraId: number | null } }
          if (!data.case || (data.type !== 'case.created' && data.type !== 'case.updated')) continue
          if (!caseSeenAt.has(data.case.id)) caseSeenAt.set(data.case.id, now)
          const cam = data.case.cameraId
          if (cam !== null) {
            const t0 = pendingByCamera.get(cam)
            if (t0 !== undefined) {
              cameraLatencies.push(now - t0)
              if (t0 - loadStart > 5000) steadyLatencies.push(now - t0)
              if (process.env.BENCH_DEBUG && now - t0 > 200) console.log(`slow ${(now - t0).toFixed(0)} ms at t=${((now - loadStart) / 1000).toFixed(2)} s, ${data.type} case ${data.case.id}`)
              pendingByCamera.delete(cam)
            }
          }
        }
      }
    } catch {
      /* aborted */
    }
  })()

  // --- load -------------------------------------------------------------------------------------
  let sent = 0
  let resolved = 0
  let failed = 0
  const outcomes: Record<string, number> = {}
  const oneButton: { sentAt: number; status: number; caseId: number | null }[] = []
  let oneButtonSent = 0
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  const start = performance.now()
  loadStart = start
  const end = start + SECONDS * 1000
  const inflight = new Set<Promise<unknown>>()
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      const due = Math.min(RATE * SECONDS, Math.floor(((now - start) / 1000) * RATE))
      while (sent < due) {
        const cam = cameraIds[(sent * 7919) % cameraIds.length]!
        const tpl = TOPICS[sent % 10 === 0 ? 3 : sent % 7 === 0 ? 2 : sent % 2]!
        const event: Pick<OnvifEvent, 'topic' | 'data' | 'source' | 'propertyOperation' | 'utcTime'> = { topic: tpl.topic, data: tpl.data, source: tpl.source, propertyOperation: 'Changed', utcTime: new Date() }
        if (!pendingByCamera.has(cam)) pendingByCamera.set(cam, performance.now())
        sent++
        const p = ingest.ingest({ cameraId: cam, event }).then(
          (r) => {
            resolved++
            outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1
            // an event that changed nothing on the stream (rate-limited with no open case) is not a latency sample
            if (r.outcome === 'ignored') pendingByCamera.delete(cam)
          },
          () => failed++,
        )
        inflight.add(p)
        void p.finally(() => inflight.delete(p))
      }
      const obDue = Math.floor(((now - start) / 1000) * ONE_BUTTON_RATE)
      while (oneButtonSent < obDue && now < end) {
        const i = oneButtonSent++
        const entry = { sentAt: performance.now(), status: 0, caseId: null as number | null }
        oneButton.push(entry)
        const unit = placeable[i % placeable.length]!
        const p = fetch(`${address}/api/alarms`, {
          method: 'POST',
          headers: { 'x-alarm-token': source.token, 'content-type': 'application/json' },
          body: JSON.stringify({ kind: i % 2 ? 'one_button_help' : 'one_button_alarm', unitCode: unit.code, externalId: `ob-${i}`, description: `bench box ${i}` }),
        })
          .then(async (r) => {
            entry.status = r.status
            entry.caseId = ((await r.json()) as { caseId: number | null }).caseId
          })
          .catch(() => (entry.status = -1))
        inflight.add(p)
        void p.finally(() => inflight.delete(p))
      }
      if (now >= end && sent >= RATE * SECONDS) resolve()
      else setTimeout(tick, 5)
    }
    tick()
  })
  const sendDone = performance.now()
  while (inflight.size) await Promise.allSettled([...inflight])
  const absorbedAt = performance.now()
  await new Promise((r) => setTimeout(r, 500)) // the last stream events
  ac.abort()
  await streamDone

  // --- figures ----------------------------------------------------------------------------------
  const oneButtonCases = db.prepare("SELECT count(*) FROM cases WHERE kind IN ('one_button_alarm', 'one_button_help')").pluck().get() as number
  const oneButtonAnswered = oneButton.filter((o) => o.status === 202 && o.caseId !== null)
  const obStored = new Set(db.prepare("SELECT id FROM cases WHERE kind IN ('one_button_alarm', 'one_button_help')").pluck().all() as number[])
  const oneButtonLost = oneButton.length - oneButtonAnswered.filter((o) => obStored.has(o.caseId!)).length
  const obLatencies = oneButtonAnswered.map((o) => (caseSeenAt.get(o.caseId!) ?? Infinity) - o.sentAt)
  const lat = summarize(cameraLatencies)
  const steady = summarize(steadyLatencies)
  const ob = summarize(obLatencies)
  const casesOpened = db.prepare('SELECT count(*) FROM cases').pluck().get() as number
  // The load's own length (SECONDS) plus the backlog left when the last event was sent: the
  // sender's timer jitter is not the gateway's. This figure cannot exceed the offered rate; it
  // says whether the gateway kept pace with it.
  const backlogS = (absorbedAt - sendDone) / 1000
  const absorbedRate = resolved / (SECONDS + backlogS)
  const figures: Record<string, Figure> = {
    'events absorbed': { value: absorbedRate, unit: 'events/s', target: RATE, better: 'higher' },
    'camera event → stream p50': { value: lat.p50, unit: 'ms', better: 'lower' },
    'camera event → stream p99': { value: lat.p99, unit: 'ms', target: 100, better: 'lower' },
    'camera event → stream p99 after warm-up': { value: steady.p99, unit: 'ms', target: 100, better: 'lower' },
    'one-button → stream p50': { value: ob.p50, unit: 'ms', better: 'lower' },
    'one-button → stream p99': { value: ob.p99, unit: 'ms', target: 100, better: 'lower' },
    'one-button alarms lost': { value: oneButtonLost, unit: 'alarms', target: 0, better: 'lower' },
    'cases opened': { value: casesOpened, unit: 'cases', better: 'higher' },
    'rate-limited (counted, not stored)': { value: outcomes.rate_limited ?? 0, unit: 'events', better: 'lower' },
  }
  const st = ingest.stats
  report('alarms', figures, [
    `${sent} camera events from ${CAMERAS} cameras in ${((sendDone - start) / 1000).toFixed(1)} s (${SECONDS} s at ${RATE}/s), all resolved ${((absorbedAt - sendDone) / 1000).toFixed(2)} s after the last was sent; ${failed} failed`,
    `outcomes: ${JSON.stringify(outcomes)}; one-button: ${oneButton.length} sent over HTTP, ${oneButtonAnswered.length} answered 202, ${oneButtonCases} one-button cases stored`,
    `alarms.batchWindowMs ${config.alarms.batchWindowMs}; event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    `${st.batches} write transactions (synchronous=FULL), ${(st.received / Math.max(1, st.batches)).toFixed(1)} alarms per transaction, write ${(st.writeMs / Math.max(1, st.batches)).toFixed(1)} ms mean / ${st.maxWriteMs.toFixed(0)} ms max (${((st.writeMs / Math.max(1, st.received)) * 1000).toFixed(0)} µs of write transaction per event); ${streamEvents} SSE events received by one street client`,
    `latency = arrival of a camera's oldest unseen event → the case.created/case.updated for that camera on a real HTTP SSE stream (client in the same process)`,
  ])
} finally {
  await gateway.close()
  rmSync(dataDir, { recursive: true, force: true })
}
