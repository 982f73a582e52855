import t from 'tap'
import { inTransaction } from '../../../src/core/db.js'
import { SYSTEM_SCOPE } from '../../../src/core/scope.js'
import type { AlarmKind } from '../../../src/features/cases/index.js'
import { startTestGateway } from '../../support/gateway.js'

t.test('safety index: colours by thresholds, counts by kind, three red months in a row', async (t) => {
  const gw = await startTestGateway(t)
  const { cases, org, db } = gw.services
  const unit = (code: string) => org.findByCode(SYSTEM_SCOPE, code)!
  const open = (code: string, kind: AlarmKind, n: number, month: string) =>
    inTransaction(db, () => {
      for (let i = 0; i < n; i++) {
        cases.openInTransaction({ kind, priority: 'normal', title: 't', unit: unit(code), cameras: [], mergeCameraId: null, sourceAlarmId: null, notifyStreet: false, at: `${month}-${String(1 + (i % 27)).padStart(2, '0')}T08:00:00.000Z`, actor: { name: 'test', id: null } })
      }
    })
  // defaults: intrusion weighs 3, one_button_alarm 5, motion 0.2; green ≥ 90 > blue ≥ 75 > orange ≥ 60 > red
  for (const m of ['2026-08', '2026-09', '2026-10']) open('JD01-SQ01', 'intrusion', 14, m) // 100 − 42 = 58: red
  open('JD01-SQ02', 'intrusion', 4, '2026-10') // 88: blue
  open('JD01-SQ03', 'motion', 10, '2026-10') // 98: green
  open('JD01-SQ04', 'intrusion', 7, '2026-10') // 79: blue
  open('JD01-SQ04', 'one_button_alarm', 2, '2026-10') // 69: orange
  open('JD01-SQ02', 'intrusion', 14, '2026-07') // red in another month only
  open('JD01-SQ05', 'intrusion', 20, '2026-10') // another station's subtree

  const station = gw.as(await gw.login('station.patrol'))
  const res = await station.get(`/api/safety-index?unit=${unit('JD01-PCS1').id}&month=2026-10`)
  t.equal(res.statusCode, 200)
  const by = Object.fromEntries(res.json.children.map((c: { unit: { code: string } }) => [c.unit.code, c]))
  t.same(Object.keys(by).sort(), ['JD01-SQ01', 'JD01-SQ02', 'JD01-SQ03', 'JD01-SQ04'])
  t.match(by['JD01-SQ01'], { score: 58, colour: 'red', cases: 14, byKind: { intrusion: 14 }, redStreak: 3, underSupervision: true })
  t.match(by['JD01-SQ02'], { score: 88, colour: 'blue', redStreak: 0, underSupervision: false })
  t.match(by['JD01-SQ03'], { score: 98, colour: 'green', byKind: { motion: 10 } })
  t.match(by['JD01-SQ04'], { score: 69, colour: 'orange', cases: 9, byKind: { intrusion: 7, one_button_alarm: 2 } })
  // the station: its whole subtree (SQ05 is another station's)
  t.match(res.json.unit, { unit: { code: 'JD01-PCS1' }, cases: 14 + 4 + 10 + 9, colour: 'red', score: 13 }) // 100 − (42 + 12 + 2 + 21 + 10)

  const sep = await station.get(`/api/safety-index?unit=${unit('JD01-SQ01').id}&month=2026-09`)
  t.match(sep.json.unit, { colour: 'red', redStreak: 2, underSupervision: false })
  const nov = await station.get(`/api/safety-index?unit=${unit('JD01-SQ01').id}&month=2026-11`)
  t.match(nov.json.unit, { colour: 'green', cases: 0, score: 100, redStreak: 0 })

  t.equal((await station.get('/api/safety-index?month=2026-13')).statusCode, 400)
  t.equal((await station.get(`/api/safety-index?unit=${unit('JD01-SQ05').id}`)).statusCode, 404, 'scoped')
  const mine = await gw.as(await gw.login('community.patrol')).get('/api/safety-index?month=2026-10')
  t.match(mine.json.unit, { unit: { code: 'JD01-SQ01' }, underSupervision: true })
  t.same(mine.json.children.map((c: { unit: { code: string } }) => c.unit.code), ['JD01-WY01'])
})
