/**
 * Who may start an evidence export: researchers (with a case and a reason) and admins. Patrol users
 * watch live video and open cases; they could export with neither case nor reason, and now may not
 * export at all.
 */
import t from 'tap'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId } from '../alarms/support.js'

t.test('patrol users cannot export; researchers need a case and a reason', async (t) => {
  const gw = await startTestGateway(t)
  const cam = cameraId(gw, 'JD01-SQ01')
  const to = new Date()
  const range = { from: new Date(to.getTime() - 60_000).toISOString(), to: to.toISOString() }
  const patrol = gw.as(await gw.login('community.patrol'))
  const researcher = gw.as(await gw.login('community.researcher'))
  const caseId = (await patrol.post('/api/cases', { kind: 'other', title: '取证' })).json.id as number

  for (const body of [{ cameraIds: [cam], ...range }, { cameraIds: [cam], ...range, caseId, reason: '巡逻取证' }]) {
    const res = await patrol.post('/api/exports', body)
    t.equal(res.statusCode, 403, `patrol: ${'reason' in body ? 'with' : 'without'} case and reason`)
    t.equal(res.json.code, 'forbidden')
  }
  t.equal(gw.services.db.prepare("SELECT count(*) FROM recording_exports").pluck().get(), 0, 'no export job was created')

  const noCase = await researcher.post('/api/exports', { cameraIds: [cam], ...range, reason: 'x' })
  t.equal(noCase.statusCode, 400)
  t.same(noCase.json.errors.map((e: any) => e.field), ['body.caseId'])
  const noReason = await researcher.post('/api/exports', { cameraIds: [cam], ...range, caseId })
  t.same(noReason.json.errors.map((e: any) => e.field), ['body.reason'])
  const ok = await researcher.post('/api/exports', { cameraIds: [cam], ...range, caseId, reason: '盗窃案 视频取证' })
  t.equal(ok.statusCode, 202, 'a researcher with a case and a reason')
  await gw.services.evidence.settle()
})
