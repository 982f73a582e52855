/**
 * The scoping matrix: every demo user (4 tiers × 4 roles) × each resource (units, cameras, users,
 * audit) × each action (list, read, update, delete), against objects inside and outside the user's
 * subtree. Inside, the role decides (200/204, or 403 for a role that may only read); outside it is
 * always 404, never 403, and lists never hold an outside object. Then the 内保外用 rule for site
 * cameras, user by user, and for everything that names such a camera: cases (their cameras,
 * snapshots, footage, alarms), the alarm list, alarm.new over a real SSE connection, evidence locks,
 * exports, live streams, recorders and health problems.
 */
import t from 'tap'
import { ROLES, TIERS, type Role, type Tier } from '../../../src/core/scope.js'
import { DEMO_USERS_TIER_NAMES } from '../../../src/features/demo/seed.js'
import { makeCamera, makeChildUnit, SYSTEM, unit } from '../../support/fixtures.js'
import { DEMO_PASSWORD, startTestGateway, type Injector } from '../../support/gateway.js'
import { cellMotion, fakeSnapshots } from '../alarms/support.js'
import { openStream, type SseClient } from '../events/support.js'

const gw = await startTestGateway(t)
const { org, auth, audit, db } = gw.services

// A second street, so that even a street user has something outside their subtree.
const jd02 = org.create(SYSTEM, { parentId: null, tier: 'street', code: 'JD02', name: '西湖街道' })
const jd02pcs = org.create(SYSTEM, { parentId: jd02.id, tier: 'police_station', code: 'JD02-PCS1', name: '西湖派出所' })
const jd02sq = org.create(SYSTEM, { parentId: jd02pcs.id, tier: 'community', code: 'JD02-SQ01', name: '西湖社区工作站' })
org.create(SYSTEM, { parentId: jd02sq.id, tier: 'site', code: 'JD02-WY01', name: '西湖花园' })

/** The demo users' units, and for each tier the units outside its subtree: siblings, cousins, ancestors, the other street. */
const HOME: Record<Tier, string> = { street: 'JD01', police_station: 'JD01-PCS1', community: 'JD01-SQ01', site: 'JD01-WY01' }
const OUTSIDE: Record<Tier, string[]> = {
  street: ['JD02', 'JD02-PCS1', 'JD02-SQ01', 'JD02-WY01'],
  police_station: ['JD01', 'JD01-PCS2', 'JD01-SQ05', 'JD01-WY03', 'JD02-PCS1'],
  community: ['JD01', 'JD01-PCS1', 'JD01-SQ02', 'JD01-WY02', 'JD02-SQ01'],
  site: ['JD01', 'JD01-PCS1', 'JD01-SQ01', 'JD01-WY02', 'JD02-WY01'],
}
const ALL_OUTSIDE = [...new Set(Object.values(OUTSIDE).flat())]
const isSite = (code: string) => unit(gw, code).tier === 'site'

// Outside objects: a camera (shared upward when at a site, so only the subtree can hide it) and a user in each.
const outsideCamera = new Map(ALL_OUTSIDE.map((code) => [code, makeCamera(gw, code, { sharedUpward: isSite(code) })]))
const outsideUser = new Map<string, number>()
await Promise.all(
  ALL_OUTSIDE.map(async (code) => {
    outsideUser.set(code, await auth.seedUser({ username: `outside.${code.toLowerCase()}`, unitId: unit(gw, code).id, roles: ['patrol'], password: DEMO_PASSWORD }))
  }),
)
const gatewayAdminId = auth.list({ unitId: null, unitPath: '/', seesPrivateSiteCameras: true }).find((u) => u.username === 'admin')!.id
// Inside objects that survive the matrix: a user per home unit (admins rename it, nobody deletes it).
const insideUser = new Map<Tier, number>()
await Promise.all(
  TIERS.map(async (tier) => insideUser.set(tier, await auth.seedUser({ username: `inside.${tier}`, unitId: unit(gw, HOME[tier]).id, roles: ['researcher'], password: DEMO_PASSWORD }))),
)
// The audit row of each outside camera's creation: an outside audit row.
const createRowOf = (cameraId: number) =>
  (db.prepare("SELECT id FROM audit_log WHERE action = 'camera.create' AND target_id = ?").get(String(cameraId)) as { id: number }).id

const tokens = new Map<string, Injector>()
// the bearer tokens themselves, for real connections (logins are rate-limited per address)
const bearers = new Map<string, string>()
for (const tier of TIERS) for (const role of ROLES) {
  const name = `${DEMO_USERS_TIER_NAMES[tier]}.${role}`
  bearers.set(name, await gw.login(name))
  tokens.set(name, gw.as(bearers.get(name)!))
}

type Resource = 'units' | 'cameras' | 'users' | 'audit'
type Action = 'read' | 'update' | 'delete'
const RESOURCES: Resource[] = ['units', 'cameras', 'users', 'audit']
const ACTIONS: Action[] = ['read', 'update', 'delete']

/** What the role may do to an object inside the subtree. */
function insideStatus(resource: Resource, action: Action | 'list', role: Role, tier: Tier): number {
  const admin = role === 'admin'
  const maintainer = role === 'admin' || role === 'technician'
  switch (resource) {
    case 'units':
      if (action === 'list' || action === 'read') return 200
      if (!admin) return 403
      if (action === 'update') return 200
      // a site has no unit below it: the only unit in a site admin's subtree is their own, which nobody deletes
      return tier === 'site' ? 403 : 204
    case 'cameras':
      if (action === 'list' || action === 'read') return 200
      if (!maintainer) return 403
      return action === 'update' ? 200 : 204
    case 'users':
      if (!admin) return 403
      return action === 'delete' ? 204 : 200
    case 'audit':
      // the audit log is append-only: there is no route that changes or removes a row
      if (action === 'update' || action === 'delete') return 404
      return admin ? 200 : 403
  }
}

function outsideStatus(resource: Resource, action: Action, role: Role): number {
  // Audit rows have no address of their own: "reading" one is filtering the scoped list by its
  // target, which for an outside target returns no rows (200, empty) to an admin.
  if (resource === 'audit' && action === 'read') return role === 'admin' ? 200 : 403
  return 404
}

const subtreeUnitIds = (tier: Tier) => {
  const home = unit(gw, HOME[tier])
  return new Set((db.prepare('SELECT id FROM units WHERE path >= ? AND path < ?').all(home.path, home.path.slice(0, -1) + '0') as { id: number }[]).map((r) => r.id))
}

let seq = 0
for (const tier of TIERS) {
  for (const role of ROLES) {
    const username = `${DEMO_USERS_TIER_NAMES[tier]}.${role}`
    t.test(username, async (t) => {
      const api = tokens.get(username)!
      const home = unit(gw, HOME[tier])

      for (const resource of RESOURCES) {
        // ---------------------------------------------------------------- list
        t.test(`${resource} list`, async (t) => {
          const expected = insideStatus(resource, 'list', role, tier)
          const inSubtree = subtreeUnitIds(tier)
          if (resource === 'units') {
            const res = await api.get('/api/units')
            t.equal(res.statusCode, expected)
            const ids = new Set(res.json.items.map((u: any) => u.id))
            t.ok(ids.has(home.id), 'holds the home unit')
            for (const code of ALL_OUTSIDE) if (OUTSIDE[tier].includes(code)) t.notOk(ids.has(unit(gw, code).id), `does not hold ${code}`)
            t.ok(res.json.items.every((u: any) => inSubtree.has(u.id)), 'holds only units of the subtree')
          } else if (resource === 'cameras') {
            const inside = makeCamera(gw, HOME[tier])
            const res = await api.get('/api/cameras?limit=500')
            t.equal(res.statusCode, expected)
            t.equal(res.json.nextCursor, null, 'one page holds them all')
            const ids = new Set(res.json.items.map((c: any) => c.id))
            t.ok(ids.has(inside.id), 'holds a camera of the home unit')
            for (const code of OUTSIDE[tier]) t.notOk(ids.has(outsideCamera.get(code)!.id), `does not hold the camera of ${code}`)
            t.ok(res.json.items.every((c: any) => inSubtree.has(c.unitId)), 'holds only cameras of the subtree')
          } else if (resource === 'users') {
            const res = await api.get('/api/users')
            t.equal(res.statusCode, expected)
            if (expected === 200) {
              const ids = new Set(res.json.items.map((u: any) => u.id))
              t.ok(ids.has(insideUser.get(tier)!), 'holds a user of the home unit')
              for (const code of OUTSIDE[tier]) t.notOk(ids.has(outsideUser.get(code)!), `does not hold the user of ${code}`)
              t.notOk(ids.has(gatewayAdminId), 'does not hold the gateway administrator')
              t.ok(res.json.items.every((u: any) => inSubtree.has(u.unitId)), 'holds only users of the subtree')
            } else t.equal(res.json.code, 'forbidden')
          } else {
            const inside = makeCamera(gw, HOME[tier])
            const res = await api.get('/api/audit?action=camera.create&limit=500')
            t.equal(res.statusCode, expected)
            if (expected === 200) {
              const targets = new Set(res.json.items.map((r: any) => Number(r.targetId)))
              t.ok(targets.has(inside.id), 'holds the creation of a camera of the home unit')
              for (const code of OUTSIDE[tier]) t.notOk(targets.has(outsideCamera.get(code)!.id), `does not hold the creation of the camera of ${code}`)
              t.ok(res.json.items.every((r: any) => r.unitPath.startsWith(home.path)), 'holds only rows of the subtree')
              const all = await api.get('/api/audit?limit=500')
              t.ok(all.json.items.every((r: any) => r.unitPath.startsWith(home.path)), 'unfiltered too')
            }
          }
        })

        for (const action of ACTIONS) {
          // ------------------------------------------------------------ inside
          t.test(`${resource} ${action} inside`, async (t) => {
            const expected = insideStatus(resource, action, role, tier)
            const n = ++seq
            if (resource === 'units') {
              const target = action === 'read' ? home : tier === 'site' ? home : makeChildUnit(gw, HOME[tier], `矩阵${n}`)
              const before = org.getUnscoped(target.id)!
              const res = action === 'read' ? await api.get(`/api/units/${target.id}`) : action === 'update' ? await api.patch(`/api/units/${target.id}`, { name: `${before.name}·改` }) : await api.delete(`/api/units/${target.id}`)
              t.equal(res.statusCode, expected)
              const after = org.getUnscoped(target.id)
              if (action === 'update') t.equal(after?.name, expected === 200 ? `${before.name}·改` : before.name, expected === 200 ? 'renamed' : 'unchanged')
              if (action === 'delete') t.equal(after === undefined, expected === 204, expected === 204 ? 'gone' : 'still there')
            } else if (resource === 'cameras') {
              const target = makeCamera(gw, HOME[tier])
              const res = action === 'read' ? await api.get(`/api/cameras/${target.id}`) : action === 'update' ? await api.patch(`/api/cameras/${target.id}`, { name: `${target.name}·改` }) : await api.delete(`/api/cameras/${target.id}`)
              t.equal(res.statusCode, expected)
              const after = db.prepare('SELECT name FROM cameras WHERE id = ?').get(target.id) as { name: string } | undefined
              if (action === 'read' && expected === 200) t.equal(res.json.id, target.id)
              if (action === 'update') t.equal(after?.name, expected === 200 ? `${target.name}·改` : target.name, expected === 200 ? 'renamed' : 'unchanged')
              if (action === 'delete') t.equal(after === undefined, expected === 204, expected === 204 ? 'gone' : 'still there')
            } else if (resource === 'users') {
              const target = action === 'delete' && expected === 204 ? await auth.seedUser({ username: `victim.${n}`, unitId: home.id, roles: ['patrol'], password: DEMO_PASSWORD }) : insideUser.get(tier)!
              const before = auth.get({ unitId: 0, unitPath: '/', seesPrivateSiteCameras: true }, target)
              const res = action === 'read' ? await api.get(`/api/users/${target}`) : action === 'update' ? await api.patch(`/api/users/${target}`, { displayName: `改名${n}` }) : await api.delete(`/api/users/${target}`)
              t.equal(res.statusCode, expected)
              const after = auth.list({ unitId: 0, unitPath: '/', seesPrivateSiteCameras: true }).find((u) => u.id === target)
              if (action === 'update') t.equal(after?.displayName, expected === 200 ? `改名${n}` : before.displayName)
              if (action === 'delete') t.equal(after === undefined, expected === 204)
            } else {
              const target = makeCamera(gw, HOME[tier])
              const rowId = createRowOf(target.id)
              const res = action === 'read' ? await api.get(`/api/audit?targetType=camera&targetId=${target.id}`) : action === 'update' ? await api.patch(`/api/audit/${rowId}`, { detail: {} }) : await api.delete(`/api/audit/${rowId}`)
              t.equal(res.statusCode, expected)
              if (action === 'read' && expected === 200) t.same(res.json.items.map((r: any) => r.id), [rowId], 'the row of that camera')
              t.ok(audit.verify().ok, 'the chain is intact')
            }
          })

          // ----------------------------------------------------------- outside
          t.test(`${resource} ${action} outside`, async (t) => {
            const expected = outsideStatus(resource, action, role)
            for (const code of OUTSIDE[tier]) {
              const n = ++seq
              if (resource === 'units') {
                const target = unit(gw, code)
                const res = action === 'read' ? await api.get(`/api/units/${target.id}`) : action === 'update' ? await api.patch(`/api/units/${target.id}`, { name: `越权${n}` }) : await api.delete(`/api/units/${target.id}`)
                t.equal(res.statusCode, expected, code)
                t.equal(org.getUnscoped(target.id)?.name, target.name, `${code} unchanged`)
              } else if (resource === 'cameras') {
                const target = outsideCamera.get(code)!
                const res = action === 'read' ? await api.get(`/api/cameras/${target.id}`) : action === 'update' ? await api.patch(`/api/cameras/${target.id}`, { name: `越权${n}` }) : await api.delete(`/api/cameras/${target.id}`)
                t.equal(res.statusCode, expected, code)
                t.notMatch(res.body, target.name, 'nothing of the camera in the answer')
                t.equal((db.prepare('SELECT name FROM cameras WHERE id = ?').get(target.id) as { name: string } | undefined)?.name, target.name, `${code}'s camera unchanged`)
              } else if (resource === 'users') {
                for (const target of [outsideUser.get(code)!, gatewayAdminId]) {
                  const res = action === 'read' ? await api.get(`/api/users/${target}`) : action === 'update' ? await api.patch(`/api/users/${target}`, { displayName: `越权${n}` }) : await api.delete(`/api/users/${target}`)
                  t.equal(res.statusCode, expected, target === gatewayAdminId ? 'the gateway administrator' : `the user of ${code}`)
                  t.notMatch(res.body, /越权/)
                }
                t.notOk(auth.list({ unitId: 0, unitPath: '/', seesPrivateSiteCameras: true }).some((u) => u.displayName.startsWith('越权')), 'nobody renamed')
              } else {
                const target = outsideCamera.get(code)!
                const rowId = createRowOf(target.id)
                const res = action === 'read' ? await api.get(`/api/audit?targetType=camera&targetId=${target.id}`) : action === 'update' ? await api.patch(`/api/audit/${rowId}`, { detail: {} }) : await api.delete(`/api/audit/${rowId}`)
                t.equal(res.statusCode, expected, code)
                if (action === 'read' && expected === 200) t.same(res.json.items, [], `no row about ${code}'s camera`)
              }
            }
          })
        }
      }
    })
  }
}

// -------------------------------------------------------------------------------- 内保外用
t.test('内保外用: site cameras and who sees them', async (t) => {
  const privateCam = makeCamera(gw, 'JD01-WY01', { name: '湖滨花园 内部监控 私有', sharedUpward: false })
  const sharedCam = makeCamera(gw, 'JD01-WY01', { name: '湖滨花园 大门 共享', sharedUpward: true })
  const siblingShared = makeCamera(gw, 'JD01-WY02', { name: '桂园雅居 大门 共享', sharedUpward: true })
  const communityCam = makeCamera(gw, 'JD01-SQ01', { name: '湖滨社区 路口' })

  for (const tier of TIERS) {
    for (const role of ROLES) {
      const username = `${DEMO_USERS_TIER_NAMES[tier]}.${role}`
      t.test(username, async (t) => {
        const api = tokens.get(username)!
        const seesPrivate = tier === 'site' || role === 'admin' || role === 'technician'
        t.equal((await api.get(`/api/cameras/${privateCam.id}`)).statusCode, seesPrivate ? 200 : 404, `private site camera: ${seesPrivate ? 'visible' : '404'}`)
        t.equal((await api.get(`/api/cameras/${sharedCam.id}`)).statusCode, 200, 'shared-upward site camera: visible to the site and every ancestor')
        const list = await api.get('/api/cameras?limit=500')
        const ids = new Set(list.json.items.map((c: any) => c.id))
        t.equal(ids.has(privateCam.id), seesPrivate, 'the list agrees about the private camera')
        t.ok(ids.has(sharedCam.id), 'the list agrees about the shared camera')
        const search = await api.get(`/api/cameras?q=${encodeURIComponent('内部监控')}`)
        t.equal(search.json.items.some((c: any) => c.id === privateCam.id), seesPrivate, 'text search does not find what the list hides')
        const underSite = await api.get(`/api/cameras?unit=${unit(gw, 'JD01-WY01').id}&limit=500`)
        t.equal(underSite.json.items.some((c: any) => c.id === privateCam.id), seesPrivate, 'nor does the unit filter')
        // a patrol user of the community may not even try to change it: it does not exist for them
        if (!seesPrivate) t.equal((await api.patch(`/api/cameras/${privateCam.id}`, { sharedUpward: true })).statusCode, 404)
        if (tier === 'site') {
          t.equal((await api.get(`/api/cameras/${siblingShared.id}`)).statusCode, 404, 'a site user sees nothing of a sibling site, shared or not')
          t.equal((await api.get(`/api/cameras/${communityCam.id}`)).statusCode, 404, 'nor the community’s own cameras')
          t.ok(list.json.items.every((c: any) => c.unitId === unit(gw, 'JD01-WY01').id), 'only the site’s own cameras')
        }
      })
    }
  }
  t.test('sharing is for site cameras only', async (t) => {
    const tech = tokens.get('community.technician')!
    const res = await tech.patch(`/api/cameras/${communityCam.id}`, { sharedUpward: true })
    t.equal(res.statusCode, 400)
    t.same(res.json.errors.map((e: any) => e.field), ['body.sharedUpward'])
    const share = await tokens.get('site.technician')!.patch(`/api/cameras/${privateCam.id}`, { sharedUpward: true })
    t.equal(share.statusCode, 200, 'the site shares its camera')
    t.equal((await tokens.get('street.patrol')!.get(`/api/cameras/${privateCam.id}`)).statusCode, 200, 'and the street command centre sees it at once')
  })
})

// ------------------------------------------------------------ 内保外用: what names a private camera
t.test('内保外用: everything that names a private site camera follows the camera', async (t) => {
  gw.services.cases.setSnapshotSource(fakeSnapshots())
  const address = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  // a refused port: the live upstream and the recorder exist (and retry) without a camera
  const refused = (path: string) => ({ main: { uri: `rtsp://127.0.0.1:9/${path}`, codec: 'h264' as const } })
  const hidden = makeCamera(gw, 'JD01-WY01', { name: '湖滨花园 私密 泳池', sharedUpward: false, streams: refused('hidden') })
  const shared = makeCamera(gw, 'JD01-WY01', { name: '湖滨花园 共享 北门', sharedUpward: true })
  const elsewhere = makeCamera(gw, 'JD02-WY01', { name: '西湖花园 共享 南门', sharedUpward: true, streams: refused('elsewhere') })

  const streams = new Map<string, SseClient>()
  for (const tier of TIERS) for (const role of ROLES) {
    const name = `${DEMO_USERS_TIER_NAMES[tier]}.${role}`
    streams.set(name, await openStream(address, bearers.get(name)!))
  }
  const alarm = await gw.services.ingest.ingest({ cameraId: hidden.id, event: cellMotion(true) })
  t.equal(alarm.outcome, 'opened')
  const caseId = alarm.caseId!
  await gw.services.cases.settle()
  // after the hidden camera's events, one every user of the tree sees: the streams are in order
  const marker = await gw.services.ingest.ingest({ cameraId: shared.id, event: cellMotion(true) })
  const snapshot = gw.services.cases.getUnscoped(caseId)!.attachments.find((a) => a.kind === 'snapshot' && a.cameraId === hidden.id)
  t.ok(snapshot, 'the snapshot at alarm time is attached')
  t.equal(unit(gw, 'JD01-SQ01').id, gw.services.cases.getUnscoped(caseId)!.unit.id, 'the case is handled by the community above the site')

  const from = new Date(Date.now() - 3_600_000).toISOString()
  const to = new Date().toISOString()
  const lockId = gw.services.recordings.lock(SYSTEM, { cameraId: hidden.id, from, to, reason: '私密 取证' })
  const exporter = tokens.get('community.admin')!
  const exp = await exporter.post('/api/exports', { cameraIds: [hidden.id], from, to, caseId, reason: '调取 泳池 录像' })
  t.equal(exp.statusCode, 202, 'an export of the hidden camera for the case (adds a footage attachment)')
  await gw.services.evidence.settle()
  for (const cam of [hidden, elsewhere]) gw.services.recordings.putSettings(SYSTEM, cam.id, { mode: 'continuous' })
  gw.services.registry.setStatus(hidden.id, 'offline', ['no route'], new Date().toISOString())
  gw.services.registry.setStatus(elsewhere.id, 'offline', ['no route'], new Date().toISOString())
  const tour = await tokens.get('site.admin')!.post('/api/tours', { name: '湖滨花园 夜巡', cameraIds: [hidden.id, shared.id] })
  t.equal(tour.statusCode, 201, 'the site’s own patrol tour holds its private camera')

  for (const tier of TIERS) {
    for (const role of ROLES) {
      const username = `${DEMO_USERS_TIER_NAMES[tier]}.${role}`
      t.test(username, async (t) => {
        const api = tokens.get(username)!
        const seesCamera = tier === 'site' || role === 'admin' || role === 'technician'
        const seesCase = tier !== 'site'
        t.equal((await api.get(`/api/cameras/${hidden.id}`)).statusCode, seesCamera ? 200 : 404, 'the camera itself')

        const one = await api.get(`/api/cases/${caseId}`)
        t.equal(one.statusCode, seesCase ? 200 : 404, 'the case: its unit decides')
        if (seesCase) {
          t.equal(one.json.cameras.some((c: any) => c.id === hidden.id), seesCamera, 'its camera list')
          t.equal(one.json.attachments.some((a: any) => a.cameraId === hidden.id), seesCamera, 'its snapshot and footage')
          t.equal(one.json.attachments.some((a: any) => a.kind === 'footage'), seesCamera, 'the footage of the export')
          t.equal(one.json.alarmIds.includes(alarm.alarmId), seesCamera, 'the camera’s alarm')
          t.equal(one.json.timeline.some((e: any) => e.detail.cameraId === hidden.id), seesCamera, 'timeline entries naming the camera')
          if (!seesCamera) t.notMatch(one.body, '泳池', 'nothing of the camera’s name in the case')
        }
        const attachment = await api.get(`/api/cases/${caseId}/attachments/${snapshot!.id}`)
        t.equal(attachment.statusCode, seesCase && seesCamera ? 200 : 404, 'the snapshot: exactly as the camera')

        const cases = await api.get('/api/cases?limit=500')
        const listed = cases.json.items.find((c: any) => c.id === caseId)
        t.equal(listed !== undefined, seesCase, 'the case list holds the case as its unit decides')
        if (listed) t.equal(listed.cameras.some((c: any) => c.id === hidden.id), seesCamera, 'and names the camera as the camera decides')
        if (!seesCamera) t.notMatch(cases.body, '泳池')

        const alarms = await api.get('/api/alarms?limit=500')
        t.equal(alarms.json.items.some((a: any) => a.id === alarm.alarmId), seesCamera, 'the alarm list')
        t.ok(alarms.json.items.some((a: any) => a.id === marker.alarmId), 'the shared camera’s alarm is listed to all')
        t.equal((await api.get(`/api/alarms?camera=${hidden.id}`)).json.items.length > 0, seesCamera, 'filtered by the camera too')

        const sse = streams.get(username)!
        await sse.waitFor((e) => e.event === 'alarm.new' && e.data.alarm.id === marker.alarmId)
        t.equal(sse.events.some((e) => e.event === 'alarm.new' && e.data.alarm.id === alarm.alarmId), seesCamera, 'alarm.new over SSE')
        if (seesCase) {
          const created = await sse.waitFor((e) => e.event === 'case.created' && e.data.case.id === caseId)
          t.equal(created.data.case.cameraId, null, 'the case event goes to the whole unit: it names no private camera')
          t.notMatch(JSON.stringify(created.data), '泳池', 'nor its name in the title')
        }
        if (!seesCamera) t.notOk(sse.events.some((e) => JSON.stringify(e.data).includes('泳池')), 'no event names the camera')

        const range = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`
        t.equal((await api.get(`/api/recordings?camera=${hidden.id}&${range}`)).statusCode, seesCamera ? 200 : 404, 'footage search')
        t.equal((await api.get(`/api/recordings/${hidden.id}/playlist.m3u8?${range}`)).statusCode, seesCamera ? 200 : 404, 'playback')
        const tours = await api.get('/api/tours')
        const listedTour = tours.json.items.find((x: any) => x.id === tour.json.id)
        t.ok(listedTour, 'the site’s tour is seen by the site and every unit above it')
        t.equal(listedTour?.cameraIds.includes(hidden.id), seesCamera, 'the tour names the private camera as the camera decides')
        t.ok(listedTour?.cameraIds.includes(shared.id), 'and the shared one to all')

        const locks = await api.get('/api/recordings/locks')
        t.equal(locks.json.items.some((l: any) => l.id === lockId), seesCamera, 'evidence locks')

        const exportView = await api.get(`/api/exports/${exp.json.id}`)
        t.equal(exportView.statusCode, seesCamera && (seesCase || role === 'admin') ? 200 : 404, 'the export')

        const problems = await api.get('/api/health/problems')
        t.equal(problems.json.items.some((p: any) => p.cameraId === hidden.id), seesCamera, 'health problems')
        t.notOk(problems.json.items.some((p: any) => p.cameraId === elsewhere.id), 'never another street’s')

        const live = await api.get('/api/live/streams')
        const status = await api.get('/api/recordings/status')
        if (role === 'admin') {
          t.ok(live.json.items.some((s: any) => s.cameraId === hidden.id), 'live streams: the admin’s own subtree')
          t.notOk(live.json.items.some((s: any) => s.cameraId === elsewhere.id), 'live streams: not another street’s')
        } else t.equal(live.statusCode, 403)
        if (role === 'admin' || role === 'technician') {
          t.ok(status.json.recorders.some((r: any) => r.cameraId === hidden.id), 'recorders: the subtree’s')
          t.notOk(status.json.recorders.some((r: any) => r.cameraId === elsewhere.id), 'recorders: not another street’s')
        } else t.equal(status.statusCode, 403)
      })
    }
  }
  t.test('sharing the camera upward shows its alarm and pictures at once', async (t) => {
    await tokens.get('site.technician')!.patch(`/api/cameras/${hidden.id}`, { sharedUpward: true })
    const patrol = tokens.get('street.patrol')!
    t.equal((await patrol.get(`/api/cases/${caseId}/attachments/${snapshot!.id}`)).statusCode, 200)
    t.ok((await patrol.get('/api/alarms?limit=500')).json.items.some((a: any) => a.id === alarm.alarmId))
    const replay = await openStream(address, bearers.get('street.patrol')!, { lastEventId: 0 })
    await replay.waitFor((e) => e.event === 'alarm.new' && e.data.alarm.id === alarm.alarmId)
    replay.close()
    await tokens.get('site.technician')!.patch(`/api/cameras/${hidden.id}`, { sharedUpward: false })
    t.equal((await patrol.get(`/api/cases/${caseId}/attachments/${snapshot!.id}`)).statusCode, 404, 'and hides them again when the sharing is taken back')
  })
  t.teardown(() => {
    for (const s of streams.values()) s.close()
    for (const cam of [hidden, elsewhere]) gw.services.recordings.putSettings(SYSTEM, cam.id, { mode: 'off' })
  })
})

t.test('the gateway administrator sees both streets, everything in them', async (t) => {
  const api = gw.as(await gw.login('admin'))
  const units = await api.get('/api/units')
  t.ok(units.json.items.some((u: any) => u.code === 'JD02-WY01'))
  t.ok(units.json.items.some((u: any) => u.code === 'JD01-WY06'))
  const users = await api.get('/api/users')
  t.ok(users.json.items.some((u: any) => u.id === gatewayAdminId), 'including gateway administrators')
  t.equal((await api.get(`/api/cameras/${outsideCamera.get('JD02-WY01')!.id}`)).statusCode, 200)
})

t.test('after the whole matrix the audit chain verifies', async (t) => {
  t.same(audit.verify().ok, true)
})
