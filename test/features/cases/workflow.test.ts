import t from 'tap'
import { CASE_STATES, TRANSITIONS, type CaseState } from '../../../src/features/cases/index.js'
import { startTestGateway } from '../../support/gateway.js'
import { cameraId, fakeSnapshots, unitId } from '../alarms/support.js'

const PATH_TO: Record<CaseState, CaseState[]> = {
  registered: [],
  dispatched: ['dispatched'],
  in_progress: ['dispatched', 'in_progress'],
  resolved: ['dispatched', 'in_progress', 'resolved'],
  closed: ['dispatched', 'in_progress', 'resolved', 'closed'],
  archived: ['dispatched', 'in_progress', 'resolved', 'closed', 'archived'],
}

t.test('case workflow, escalation, assignment, read-only archive, overdue', async (t) => {
  const gw = await startTestGateway(t)
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  const patrol = gw.as(await gw.login('community.patrol')) // JD01-SQ01
  const newCase = async (extra: Record<string, unknown> = {}) => {
    const res = await patrol.post('/api/cases', { kind: 'other', title: '可疑人员徘徊', description: '东门附近', ...extra })
    if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`)
    return res.json as { id: number; number: string; state: CaseState; allowedTransitions: CaseState[] }
  }

  t.test('manual case: number, unit, cameras, snapshot flag', async (t) => {
    const cam = cameraId(gw, 'JD01-SQ01')
    const res = await patrol.post('/api/cases', { kind: 'intrusion', priority: 'high', title: '翻越围墙', cameraIds: [cam], snapshot: true })
    t.equal(res.statusCode, 201)
    t.match(res.json, { number: new RegExp(`^${new Date().getUTCFullYear()}-\\d{6}$`), state: 'registered', priority: 'high', unit: { code: 'JD01-SQ01' }, cameras: [{ id: cam }], allowedTransitions: ['dispatched', 'closed'] })
    await gw.services.cases.settle()
    t.equal(gw.services.cases.getUnscoped(res.json.id)!.attachments.length, 1)
    const foreign = await patrol.post('/api/cases', { kind: 'other', title: 'x', cameraIds: [cameraId(gw, 'JD01-SQ05')] })
    t.equal(foreign.statusCode, 422)
    t.equal(foreign.json.errors[0].field, 'body.cameraIds.0')
    t.equal((await gw.as(await gw.login('community.researcher')).post('/api/cases', { kind: 'other', title: 'x' })).statusCode, 403)
  })

  t.test('every allowed transition works; every illegal one is 409 listing the allowed ones', async (t) => {
    for (const from of CASE_STATES) {
      for (const to of CASE_STATES) {
        const c = await newCase()
        for (const step of PATH_TO[from]) {
          const r = await patrol.post(`/api/cases/${c.id}/transitions`, { to: step })
          if (r.statusCode !== 200) throw new Error(`walking to ${from}: ${r.body}`)
        }
        const res = await patrol.post(`/api/cases/${c.id}/transitions`, { to, comment: `${from}→${to}` })
        if (TRANSITIONS[from].includes(to)) {
          t.equal(res.statusCode, 200, `${from} → ${to} allowed`)
          t.equal(res.json.state, to)
          t.same(res.json.allowedTransitions, TRANSITIONS[to])
          const last = res.json.timeline.at(-1)
          t.match(last, { type: 'transition', actor: 'community.patrol', detail: { from, to, comment: `${from}→${to}` } })
        } else {
          t.equal(res.statusCode, 409, `${from} → ${to} refused`)
          t.same(res.json.allowed, TRANSITIONS[from], `409 lists what ${from} allows`)
        }
      }
    }
    t.equal((await patrol.post('/api/cases/1/transitions', { to: 'solved' })).statusCode, 400)
  })

  t.test('timestamps, reopen, audit', async (t) => {
    const c = await newCase()
    const d = await patrol.post(`/api/cases/${c.id}/transitions`, { to: 'dispatched' })
    t.ok(d.json.acknowledgedAt)
    await patrol.post(`/api/cases/${c.id}/transitions`, { to: 'resolved' })
    const reopened = await patrol.post(`/api/cases/${c.id}/transitions`, { to: 'in_progress', comment: 'not accepted' })
    t.equal(reopened.json.resolvedAt, null)
    const n = gw.services.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'case.transition' AND target_id = ?").pluck().get(String(c.id))
    t.equal(n, 3)
  })

  t.test('archived cases are read-only', async (t) => {
    const c = await newCase()
    for (const step of PATH_TO.archived) await patrol.post(`/api/cases/${c.id}/transitions`, { to: step })
    const admin = gw.as(await gw.login('admin'))
    for (const [method, url, body] of [
      ['PATCH', `/api/cases/${c.id}`, { title: 'changed' }],
      ['POST', `/api/cases/${c.id}/comments`, { text: 'late note' }],
      ['POST', `/api/cases/${c.id}/escalate`, { reason: 'too late' }],
      ['POST', `/api/cases/${c.id}/transitions`, { to: 'closed' }],
    ] as const) {
      const res = await admin.request(method, url, body)
      t.equal(res.statusCode, 409, `${method} ${url}`)
      t.same(res.json.allowed, [])
    }
    t.equal((await patrol.get(`/api/cases/${c.id}`)).json.title, '可疑人员徘徊')
  })

  t.test('escalation moves the case to the parent unit and scoping follows', async (t) => {
    const c = await newCase()
    const station = gw.as(await gw.login('station.patrol')) // JD01-PCS1, parent of SQ01
    const street = gw.as(await gw.login('street.patrol'))
    const tech = gw.services.auth.list({ unitId: null, unitPath: '/', seesPrivateSiteCameras: true }, { unitId: unitId(gw, 'JD01-SQ01'), role: 'technician' })[0]!
    t.equal((await patrol.patch(`/api/cases/${c.id}`, { assigneeId: tech.id })).statusCode, 200)
    const res = await patrol.post(`/api/cases/${c.id}/escalate`, { reason: '需要派出所出警' })
    t.equal(res.statusCode, 200)
    t.match(res.json, { unit: { code: 'JD01-PCS1' }, assignee: null })
    t.match(res.json.timeline.at(-1), { type: 'escalation', actor: 'community.patrol', detail: { reason: '需要派出所出警', fromUnit: 'JD01-SQ01', toUnit: 'JD01-PCS1', previousAssigneeId: tech.id } })
    t.equal((await patrol.get(`/api/cases/${c.id}`)).statusCode, 404, 'the community no longer sees it')
    t.notOk((await patrol.get('/api/cases?limit=1000')).json.items.some((x: { id: number }) => x.id === c.id))
    t.equal((await station.get(`/api/cases/${c.id}`)).statusCode, 200, 'the station does')
    t.ok((await station.get('/api/cases?limit=1000')).json.items.some((x: { id: number }) => x.id === c.id))
    t.equal((await station.post(`/api/cases/${c.id}/escalate`, { reason: '街道统筹' })).json.unit.code, 'JD01')
    t.equal((await station.get(`/api/cases/${c.id}`)).statusCode, 404)
    const top = await street.post(`/api/cases/${c.id}/escalate`, { reason: 'higher?' })
    t.equal(top.statusCode, 409, 'nothing above the street')
    t.equal(top.json.code, 'conflict')
    t.equal(gw.services.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'case.escalate' AND target_id = ?").pluck().get(String(c.id)), 2)
  })

  t.test('a closed or archived case cannot be escalated: 409 case_closed', async (t) => {
    for (const state of ['closed', 'archived'] as const) {
      const c = await newCase()
      for (const step of PATH_TO[state]) await patrol.post(`/api/cases/${c.id}/transitions`, { to: step })
      const res = await patrol.post(`/api/cases/${c.id}/escalate`, { reason: '结案后上报' })
      t.equal(res.statusCode, 409, state)
      t.match(res.json, { code: 'case_closed', state, allowed: [] })
      const after = gw.services.cases.getUnscoped(c.id)!
      t.equal(after.unit.code, 'JD01-SQ01', 'the case stays with its unit')
      t.notOk(after.timeline.some((e) => e.type === 'escalation'), 'no escalation in the timeline')
    }
  })

  t.test('an assignee the caller cannot see is only "not found": no name, no hint it exists', async (t) => {
    const c = await newCase()
    const elsewhere = await gw.services.auth.seedUser({ username: 'sq02.secret.agent', unitId: unitId(gw, 'JD01-SQ02'), roles: ['patrol'], password: 'demo-pass-2026' })
    const outside = await patrol.patch(`/api/cases/${c.id}`, { assigneeId: elsewhere })
    const missing = await patrol.patch(`/api/cases/${c.id}`, { assigneeId: 999999 })
    t.equal(outside.statusCode, 422)
    t.notMatch(outside.body, 'sq02.secret.agent', 'the user is not named')
    t.equal(outside.json.detail, `user ${elsewhere} not found`)
    t.same(outside.json.errors, missing.json.errors, 'the same answer as an id that does not exist')
    const viaTransition = await patrol.post(`/api/cases/${c.id}/transitions`, { to: 'dispatched', assigneeId: elsewhere })
    t.equal(viaTransition.statusCode, 422)
    t.notMatch(viaTransition.body, 'sq02.secret.agent')
    const viaCreate = await patrol.post('/api/cases', { kind: 'other', title: '指派', assigneeId: elsewhere })
    t.equal(viaCreate.statusCode, 422)
    t.notMatch(viaCreate.body, 'sq02.secret.agent')
  })

  t.test('reassignment and edits: the assignee must be able to see the case', async (t) => {
    const c = await newCase()
    const users = gw.services.auth.list({ unitId: null, unitPath: '/', seesPrivateSiteCameras: true })
    const id = (name: string) => users.find((u) => u.username === name)!.id
    const ok = await patrol.patch(`/api/cases/${c.id}`, { assigneeId: id('community.technician'), priority: 'urgent', title: '更新标题' })
    t.equal(ok.statusCode, 200)
    t.match(ok.json, { assignee: { username: 'community.technician' }, priority: 'urgent', title: '更新标题' })
    t.ok(Date.parse(ok.json.deadlines.acknowledgeBy) - Date.parse(ok.json.createdAt) <= 5 * 60_000 + 1, 'deadlines follow the priority')
    t.ok(ok.json.timeline.some((e: { type: string }) => e.type === 'assignment'))
    t.ok(ok.json.timeline.some((e: { type: string }) => e.type === 'update'))
    const site = await patrol.patch(`/api/cases/${c.id}`, { assigneeId: id('site.patrol') })
    t.equal(site.statusCode, 422, 'a site user below the case unit cannot see it')
    t.equal(site.json.errors[0].field, 'body.assigneeId')
    t.equal((await patrol.patch(`/api/cases/${c.id}`, { assigneeId: id('street.patrol') })).statusCode, 200, 'a user above can')
    t.equal((await patrol.patch(`/api/cases/${c.id}`, { assigneeId: 999999 })).statusCode, 422)
    const comment = await patrol.post(`/api/cases/${c.id}/comments`, { text: '已联系物业' })
    t.equal(comment.statusCode, 201)
    t.match(comment.json.timeline.at(-1), { type: 'comment', actor: 'community.patrol', detail: { text: '已联系物业' } })
  })

  t.test('overdue flags, list filter, and the sweep announces each case once', async (t) => {
    const c = await newCase({ priority: 'urgent' })
    const { db, cases } = gw.services
    db.prepare('UPDATE cases SET ack_due_at = ?, created_at = ? WHERE id = ?').run(new Date(Date.now() - 60_000).toISOString(), new Date(Date.now() - 120_000).toISOString(), c.id)
    const got = await patrol.get(`/api/cases/${c.id}`)
    t.match(got.json.overdue, { acknowledge: true, resolve: false, any: true })
    const overdue = await patrol.get('/api/cases?overdue=true&limit=1000')
    t.ok(overdue.json.items.some((x: { id: number }) => x.id === c.id))
    t.ok(overdue.json.items.every((x: { overdue: { any: boolean } }) => x.overdue.any))
    const notOverdue = await patrol.get('/api/cases?overdue=false&limit=1000')
    t.notOk(notOverdue.json.items.some((x: { id: number }) => x.id === c.id))
    t.ok(cases.sweepOverdue() >= 1)
    t.equal(cases.sweepOverdue(), 0, 'once per case')
    t.equal(db.prepare("SELECT count(*) FROM stream_events WHERE type = 'case.overdue' AND json_extract(payload, '$.case.id') = ?").pluck().get(c.id), 1)
    await patrol.post(`/api/cases/${c.id}/transitions`, { to: 'dispatched' })
    t.match((await patrol.get(`/api/cases/${c.id}`)).json.overdue, { acknowledge: false, any: false })
  })

  t.test('list filters and pagination', async (t) => {
    const page1 = await patrol.get('/api/cases?limit=5')
    t.equal(page1.json.items.length, 5)
    t.ok(page1.json.nextCursor)
    const page2 = await patrol.get(`/api/cases?limit=5&cursor=${page1.json.nextCursor}`)
    t.ok(page2.json.items[0].id < page1.json.items[4].id)
    const archived = await patrol.get('/api/cases?state=archived&limit=100')
    t.ok(archived.json.items.length >= 1)
    t.ok(archived.json.items.every((x: { state: string }) => x.state === 'archived'))
    t.ok((await patrol.get('/api/cases?kind=intrusion&priority=high')).json.items.length >= 1)
    t.equal((await patrol.get(`/api/cases?unit=${unitId(gw, 'JD01-SQ05')}`)).statusCode, 404)
    t.equal((await patrol.get('/api/cases?cursor=garbage')).statusCode, 400)
  })

  t.test('a unit with open cases cannot be deleted', async (t) => {
    const admin = gw.as(await gw.login('admin'))
    const unit = await admin.post('/api/units', { parentId: unitId(gw, 'JD01-SQ01'), tier: 'site', code: 'JD01-WY99', name: '临时小区' })
    const c = await admin.post('/api/cases', { kind: 'other', title: 'x', unitId: unit.json.id })
    t.equal(c.statusCode, 201)
    const del = await admin.delete(`/api/units/${unit.json.id}`)
    t.equal(del.statusCode, 409)
    t.match(del.json.detail, /1 open cases/)
  })
})
