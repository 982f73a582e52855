import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import t from 'tap'
import { projectRoot } from '../../../src/core/paths.js'
import { SYSTEM_SCOPE } from '../../../src/core/scope.js'
import { CSV_HEADER, csvCell } from '../../../src/features/registry/csv.js'
import { unit } from '../../support/fixtures.js'
import { startTestGateway, type Injector } from '../../support/gateway.js'

const gw = await startTestGateway(t)
const streetTech = gw.as(await gw.login('street.technician'))
const communityTech = gw.as(await gw.login('community.technician'))
const communityPatrol = gw.as(await gw.login('community.patrol'))
const streetAdmin = gw.as(await gw.login('street.admin'))
const db = gw.services.db

const count = () => (db.prepare('SELECT count(*) AS n FROM cameras').get() as { n: number }).n
const bySerial = (serial: string) => gw.services.registry.list({ userId: 0, username: 't', displayName: 't', unitId: null, unitPath: '/', unitTier: null, roles: ['admin'] }, { q: serial }, undefined, 10).items.find((c) => c.device.serial === serial)
const credentialsOf = (serial: string) => gw.services.registry.getForUse(SYSTEM_SCOPE, bySerial(serial)!.id).credentials
const importCsv = (api: Injector, csv: string | Buffer, query = '', contentType = 'text/csv') =>
  api.request('POST', `/api/cameras/import${query}`, typeof csv === 'string' ? Buffer.from(csv) : csv, { 'content-type': contentType })
const csvOf = (...lines: string[]) => lines.join('\r\n') + '\r\n'
const auditCount = (action: string) => (db.prepare('SELECT count(*) AS n FROM audit_log WHERE action = ?').get(action) as { n: number }).n

const HEADER = 'name,unit_code,class,kind,lat,lon,address,onvif_url,manufacturer,model,serial,main_uri,main_codec,tags,shared_upward,username,password'
const GOOD = csvOf(
  HEADER,
  '湖滨社区 东门 枪机,JD01-SQ01,二类,枪机,30.5461,114.3561,湖滨路1号东门,http://192.168.20.11/onvif/device_service,Hikvision,DS-2CD2T47,CSV-SN-0001,rtsp://192.168.20.11:554/Streaming/Channels/101,h264,东门;出入口,,admin,Csv-Pass-001',
  '湖滨花园 地库 球机,JD01-WY01,3,球机,,,,http://192.168.20.12/onvif/device_service,Dahua,SD49225,CSV-SN-0002,rtsp://ops:Uri-Pass-002@192.168.20.12/cam/realmonitor,HEVC,车库,是,,',
  '"湖滨社区 视频门禁, 3号楼",JD01-SQ01,2,视频门禁,,,"湖滨路3号,\n3号楼",http://192.168.20.13/onvif/device_service,,,,,,门禁,,,',
)

t.test('good rows import; fields, aliases and credentials land where they belong', async (t) => {
  const before = count()
  const res = await importCsv(communityTech, GOOD)
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json, { dryRun: false, rows: 3, created: 3, updated: 0, unchanged: 0, errors: [] })
  t.equal(count(), before + 3)

  const one = bySerial('CSV-SN-0001')!
  t.match(one, {
    name: '湖滨社区 东门 枪机',
    unitId: unit(gw, 'JD01-SQ01').id,
    class: 2,
    kind: 'fixed',
    location: { lat: 30.5461, lon: 114.3561, address: '湖滨路1号东门' },
    device: { manufacturer: 'Hikvision', model: 'DS-2CD2T47' },
    streams: { main: { uri: 'rtsp://192.168.20.11:554/Streaming/Channels/101', codec: 'h264' } },
    sharedUpward: false,
    hasCredentials: true,
  })
  t.same(one.tags, ['东门', '出入口'])
  t.same(credentialsOf('CSV-SN-0001'), { username: 'admin', password: 'Csv-Pass-001' })

  const two = bySerial('CSV-SN-0002')!
  t.match(two, { kind: 'ptz', class: 3, sharedUpward: true, streams: { main: { uri: 'rtsp://192.168.20.12/cam/realmonitor', codec: 'h265' } }, hasCredentials: true })
  t.same(credentialsOf('CSV-SN-0002'), { username: 'ops', password: 'Uri-Pass-002' }, 'credentials inside the stream URI are lifted out')

  const door = gw.services.registry.list({ userId: 0, username: 't', displayName: 't', unitId: null, unitPath: '/', unitTier: null, roles: ['admin'] }, { q: '3号楼' }, undefined, 10).items
  t.equal(door.length, 1)
  t.match(door[0], { name: '湖滨社区 视频门禁, 3号楼', kind: 'door_access', location: { address: '湖滨路3号,\n3号楼' }, hasCredentials: false })

  const audit = await streetAdmin.get('/api/audit?action=camera.import&limit=1')
  t.match(audit.json.items[0].detail, { rows: 3, created: 3, updated: 0, unchanged: 0, credentialsChanged: 2 })
  t.equal(audit.json.items[0].detail.createdIds.length, 3)
  t.notMatch(JSON.stringify(audit.json), /Csv-Pass-001|Uri-Pass-002/, 'the audit row holds no credentials')
})

t.test('re-importing the same file changes nothing; an edited row is an update', async (t) => {
  const before = count()
  const again = await importCsv(communityTech, GOOD)
  t.equal(again.statusCode, 200)
  t.same(again.json, { dryRun: false, rows: 3, created: 0, updated: 0, unchanged: 3, errors: [] })
  t.equal(count(), before)
  t.same(credentialsOf('CSV-SN-0001'), { username: 'admin', password: 'Csv-Pass-001' })

  const edited = await importCsv(communityTech, GOOD.replace('湖滨社区 东门 枪机', '湖滨社区 东门 枪机(更换)'))
  t.match(edited.json, { created: 0, updated: 1, unchanged: 2 })
  t.equal(bySerial('CSV-SN-0001')!.name, '湖滨社区 东门 枪机(更换)')
  t.equal(count(), before)
})

t.test('rows without a serial match on the ONVIF address, however it was written', async (t) => {
  const file = csvOf(
    'name,unit_code,class,kind,onvif_url',
    '无序列号 一,JD01-SQ01,3,fixed,http://192.168.20.14',
    '无序列号 二,JD01-SQ01,3,fixed,http://ops:pw-0015@192.168.20.15/onvif/device_service',
    '无序列号 三,JD01-SQ01,3,fixed,HTTP://CAM-16.LOCAL/onvif/device_service',
  )
  const first = await importCsv(communityTech, file)
  t.equal(first.statusCode, 200)
  t.match(first.json, { created: 3 })
  const before = count()
  const second = await importCsv(communityTech, file)
  t.equal(second.statusCode, 200)
  t.match(second.json, { created: 0, updated: 0, unchanged: 3 }, 'matched, not duplicated')
  t.equal(count(), before)
})

t.test('a file with bad rows: 422 listing each bad row by line and column; nothing imported', async (t) => {
  const before = count()
  const auditsBefore = auditCount('camera.import')
  const file = csvOf(
    'name,unit_code,class,kind,lat,lon,serial,main_uri,shared_upward,username,password',
    '好的一行,JD01-SQ01,2,fixed,,,BAD-SN-1,rtsp://10.3.0.1/live,,,', // line 2: fine
    '坏的类别,JD01-SQ01,x,fixed,,,BAD-SN-2,,,,', // line 3
    '不存在的单位,JD01-SQ99,2,fixed,,,BAD-SN-3,,,,', // line 4
    '错误的协议,JD01-SQ01,2,fixed,,,BAD-SN-4,ftp://10.3.0.4/live,,,', // line 5
    '纬度越界,JD01-SQ01,2,fixed,200,114.3,BAD-SN-5,,,,', // line 6
    '只有用户名,JD01-SQ01,2,fixed,,,BAD-SN-6,,,admin,', // line 7
    '社区不共享,JD01-SQ01,2,fixed,,,BAD-SN-7,,是,,', // line 8
    '重复序列号,JD01-SQ01,2,fixed,,,BAD-SN-1,,,,', // line 9
    ',JD01-SQ01,2,fixed,,,BAD-SN-10,,,,', // line 10: no name
    '未知种类,JD01-SQ01,2,bullet,,,BAD-SN-11,,,,', // line 11
  )
  const res = await importCsv(communityTech, file)
  t.equal(res.statusCode, 422)
  t.match(res.headers['content-type'], /problem\+json/)
  t.match(res.json.detail, /nothing was imported/)
  const got = res.json.errors.map((e: any) => `${e.line}:${e.field}`)
  t.same(got, ['3:class', '4:unit_code', '5:main_uri', '6:lat', '7:password', '8:shared_upward', '9:serial', '10:name', '11:kind'])
  t.ok(res.json.errors.every((e: any) => typeof e.message === 'string' && e.message.length > 3), 'each with a message')
  t.match(res.json.report, { created: 0, rows: 10 })
  t.equal(count(), before, 'not even the good row')
  t.notOk(bySerial('BAD-SN-1'))
  t.equal(auditCount('camera.import'), auditsBefore, 'no import was recorded')
})

t.test('file-level problems: unknown or missing columns, an empty file, broken quoting', async (t) => {
  const unknown = await importCsv(communityTech, csvOf('name,unit_code,class,kind,colour', 'x,JD01-SQ01,2,fixed,red'))
  t.equal(unknown.statusCode, 422)
  t.same(unknown.json.errors.map((e: any) => `${e.line}:${e.field}`), ['1:colour'])
  const missing = await importCsv(communityTech, csvOf('name,unit_code,class', 'x,JD01-SQ01,2'))
  t.same(missing.json.errors.map((e: any) => `${e.line}:${e.field}`), ['1:kind'])
  const empty = await importCsv(communityTech, '')
  t.equal(empty.statusCode, 422)
  t.same(empty.json.errors.map((e: any) => e.field), ['file'])
  const extraCells = await importCsv(communityTech, csvOf('name,unit_code,class,kind', 'x,JD01-SQ01,2,fixed,surplus'))
  t.same(extraCells.json.errors.map((e: any) => `${e.line}:${e.field}`), ['2:file'])
  const quoting = await importCsv(communityTech, csvOf('name,unit_code,class,kind', '"unterminated,JD01-SQ01,2,fixed'))
  t.equal(quoting.statusCode, 422)
  t.same(quoting.json.errors.map((e: any) => e.field), ['file'])
})

t.test('a broken cell never echoes a password back', async (t) => {
  const res = await importCsv(communityTech, csvOf('name,unit_code,class,kind,username,password', 'x,JD01-SQ01,2,fixed,admin,Leak9"Me-Not'))
  t.equal(res.statusCode, 422)
  t.equal(res.json.errors[0].line, 2)
  t.notMatch(res.body, /Leak9|Me-Not/)
})

t.test('line numbers count physical lines: LF endings, blank lines, multi-line cells', async (t) => {
  const file = ['name,unit_code,class,kind,address', '多行地址,JD01-SQ01,2,fixed,"一行\n二行"', '', '坏的,JD01-SQ01,9,fixed,'].join('\n') + '\n'
  const res = await importCsv(communityTech, file)
  t.equal(res.statusCode, 422)
  t.same(res.json.errors.map((e: any) => `${e.line}:${e.field}`), ['5:class'])
})

t.test('dryRun reports what would happen and writes nothing', async (t) => {
  const before = count()
  const auditsBefore = auditCount('camera.import')
  const file = csvOf('name,unit_code,class,kind,serial', '预演 一,JD01-SQ01,2,fixed,DRY-SN-1', '预演 二,JD01-WY01,3,dome,DRY-SN-2', '湖滨社区 东门 枪机(预演),JD01-SQ01,2,fixed,CSV-SN-0001')
  const dry = await importCsv(communityTech, file, '?dryRun=true')
  t.equal(dry.statusCode, 200)
  t.same(dry.json, { dryRun: true, rows: 3, created: 2, updated: 1, unchanged: 0, errors: [] })
  t.equal(count(), before)
  t.notOk(bySerial('DRY-SN-1'))
  t.equal(auditCount('camera.import'), auditsBefore)
  t.equal(bySerial('CSV-SN-0001')!.name, '湖滨社区 东门 枪机(更换)', 'the would-be update did not touch the camera')
  const bad = await importCsv(communityTech, csvOf('name,unit_code,class,kind', 'x,JD01-SQ01,7,fixed'), '?dryRun=true')
  t.equal(bad.statusCode, 422, 'a dry run reports bad rows the same way')
})

t.test('scope: a unit code or a serial outside your subtree is a row error', async (t) => {
  const before = count()
  const outsideUnit = await importCsv(communityTech, csvOf('name,unit_code,class,kind', '别人的社区,JD01-SQ02,2,fixed', '自己的社区,JD01-SQ01,2,fixed'))
  t.equal(outsideUnit.statusCode, 422)
  t.same(outsideUnit.json.errors.map((e: any) => `${e.line}:${e.field}`), ['2:unit_code'])
  t.notMatch(outsideUnit.json.errors[0].message, /桂园|SQ02 is/, 'says no more than "not in your part of the tree"')
  const foreign = (await streetAdmin.get(`/api/cameras?unit=${unit(gw, 'JD01-SQ02').id}&limit=1`)).json.items[0]
  const stolen = await importCsv(communityTech, csvOf('name,unit_code,class,kind,serial', `抢来的,JD01-SQ01,2,fixed,${foreign.device.serial}`))
  t.equal(stolen.statusCode, 422)
  t.same(stolen.json.errors.map((e: any) => `${e.line}:${e.field}`), ['2:serial'])
  t.equal((await streetAdmin.get(`/api/cameras/${foreign.id}`)).json.unitId, unit(gw, 'JD01-SQ02').id, 'the other community keeps its camera')
  t.equal(count(), before)
})

t.test('who may import, and how the file must be sent', async (t) => {
  t.equal((await importCsv(communityPatrol, GOOD)).statusCode, 403)
  const json = await communityTech.post('/api/cameras/import', { rows: [] })
  t.equal(json.statusCode, 400)
  t.same(json.json.errors.map((e: any) => e.field), ['body'])
  t.equal((await importCsv(communityTech, GOOD, '?dryRun=maybe')).statusCode, 400)
  t.equal((await importCsv(communityTech, GOOD, '', 'application/vnd.ms-excel')).statusCode, 200, 'Excel’s content type for CSV is accepted')
})

t.test('export, then re-import: nothing changes and credentials are kept', async (t) => {
  const res = await streetTech.get('/api/cameras/export')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.match(res.headers['content-disposition'], /attachment; filename="cameras-\d{4}-\d{2}-\d{2}\.csv"/)
  t.ok(res.body.startsWith('\uFEFF'), 'a BOM for Excel')
  const header = res.body.replace(/^\uFEFF/, '').split('\r\n')[0]!
  t.notMatch(header, /username|password/, 'no credential columns')
  t.notMatch(res.body, /Csv-Pass-001|Uri-Pass-002|ops:/, 'no credential values')
  const visible = (await streetTech.get('/api/cameras?limit=500')).json.items.length
  const again = await importCsv(streetTech, res.body)
  t.equal(again.statusCode, 200, again.body)
  t.same(again.json, { dryRun: false, rows: visible, created: 0, updated: 0, unchanged: visible, errors: [] })
  t.same(credentialsOf('CSV-SN-0001'), { username: 'admin', password: 'Csv-Pass-001' })
  t.same(credentialsOf('CSV-SN-0002'), { username: 'ops', password: 'Uri-Pass-002' })
  t.equal(bySerial('CSV-SN-0001')!.hasCredentials, true)

  const scoped = await communityTech.get('/api/cameras/export')
  const records = parse(scoped.body, { bom: true, columns: true }) as Record<string, string>[]
  t.ok(records.length >= 4)
  const codes = new Set(records.map((r) => r.unit_code))
  t.ok([...codes].every((c) => c === 'JD01-SQ01' || c === 'JD01-WY01'), 'a community exports only its subtree')
  t.equal((await communityTech.get(`/api/cameras/export?unit=${unit(gw, 'JD01-SQ02').id}`)).statusCode, 404)
  t.equal((await communityPatrol.get('/api/cameras/export')).statusCode, 403)
  t.ok((await streetAdmin.get('/api/audit?action=camera.export')).json.items.length >= 2, 'exports are audited')
})

t.test('a spreadsheet formula in a cell is exported defused', async (t) => {
  const created = await communityTech.post('/api/cameras', { unitId: unit(gw, 'JD01-SQ01').id, name: '=HYPERLINK("http://evil")', class: 3, kind: 'fixed' })
  t.equal(created.statusCode, 201)
  const res = await communityTech.get('/api/cameras/export')
  t.match(res.body, `"'=HYPERLINK(""http://evil"")"`)
  t.notMatch(res.body, /(^|,)=HYPERLINK/m)
})

t.test('CSV export follows OWASP: every cell beginning with = + - @ TAB or CR is quoted, numbers stay numbers', async (t) => {
  t.equal(csvCell('-1+1|cmd'), "'-1+1|cmd", 'a leading minus followed by a digit is a formula too')
  t.equal(csvCell('-2+3+cmd|\' /C calc\'!A0'), "'-2+3+cmd|' /C calc'!A0")
  t.equal(csvCell('+1'), "'+1")
  t.equal(csvCell('@SUM(A1)'), "'@SUM(A1)")
  t.equal(csvCell('\t=1+1'), "'\t=1+1", 'a leading tab')
  t.equal(csvCell('\r=1+1'), `"'\r=1+1"`, 'a leading carriage return, quoted because it holds a CR')
  t.equal(csvCell('=1,2'), `"'=1,2"`, 'quoted when it holds the separator')
  t.equal(csvCell('a "b"\nc'), '"a ""b""\nc"', 'quotes doubled, newline quoted')
  t.equal(csvCell(-33.5), '-33.5', 'a negative number the gateway wrote stays a number')
  t.equal(csvCell('普通 名称'), '普通 名称')

  const created = await communityTech.post('/api/cameras', { unitId: unit(gw, 'JD01-SQ01').id, name: '-1+1|cmd', class: 3, kind: 'fixed', location: { lat: -33.5, lon: 151.2, address: '@SUM(1+1)' }, device: { serial: 'OWASP-SN-1' } })
  t.equal(created.statusCode, 201, created.body)
  const res = await communityTech.get('/api/cameras/export')
  const line = res.body.split('\r\n').find((l) => l.includes('OWASP-SN-1'))!
  t.match(line, /^'-1\+1\|cmd,JD01-SQ01,3,fixed,-33\.5,151\.2,'@SUM\(1\+1\),/)

  // re-importing the export changes nothing: the quotes are taken off again
  const again = await importCsv(communityTech, CSV_HEADER + line + '\r\n', '?dryRun=true')
  t.equal(again.statusCode, 200, again.body)
  t.match(again.json, { rows: 1, created: 0, unchanged: 1 })
})

t.test('a GB18030 file (Chinese Excel) imports correctly', async (t) => {
  // made by the Python snippet in test/fixtures/csv/README.md
  const bytes = readFileSync(join(projectRoot, 'test/fixtures/csv/gb18030.csv'))
  t.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes), 'the fixture really is not UTF-8')
  const res = await importCsv(streetTech, bytes)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json, { rows: 3, created: 3 })
  t.match(bySerial('GB-SN-0001'), { name: '青山社区 菜市场 全景𠮷', class: 2, kind: 'ptz', location: { address: '青山路菜市场南口' }, tags: ['菜市场', '人流密集'] })
  t.match(bySerial('GB-SN-0002'), { name: '青山社区 学校门口', class: 1, kind: 'fixed' })
  t.match(bySerial('GB-SN-0003'), { name: '桂园雅居 北门 门禁', class: 3, kind: 'door_access', sharedUpward: true, unitId: unit(gw, 'JD01-WY02').id })
  t.match((await importCsv(streetTech, bytes)).json, { created: 0, unchanged: 3 }, 'and re-imports as unchanged')
})

t.test('a UTF-8 file with a BOM and Chinese yes/no imports', async (t) => {
  const res = await importCsv(communityTech, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csvOf('name,unit_code,class,kind,enabled,serial', '带BOM的文件,JD01-SQ01,三类,半球,否,BOM-SN-1'))]))
  t.equal(res.statusCode, 200, res.body)
  t.match(bySerial('BOM-SN-1'), { name: '带BOM的文件', class: 3, kind: 'dome', enabled: false })
})

t.test('an import over the size limit is 413', async (t) => {
  const small = await startTestGateway(t, { demo: false, overrides: { http: { importBodyLimitBytes: 4096 } } })
  const api = small.as(await small.login('admin'))
  const big = HEADER + '\r\n' + 'x,JD01-SQ01,2,fixed\r\n'.repeat(400)
  const res = await importCsv(api, big)
  t.equal(res.statusCode, 413)
  t.same(res.json.errors.map((e: any) => e.field), ['body'])
})
