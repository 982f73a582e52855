import { execFileSync } from 'node:child_process'
import t from 'tap'
import {
  ManscdpError,
  alarmResponse,
  catalogQuery,
  decodeBody,
  encodeBody,
  gbIdKind,
  gbSsrc,
  parseManscdp,
  parsePtzCommand,
  presetCommand,
  ptzMoveCommand,
  ptzStopCommand,
  readAlarm,
  readCatalog,
  readDeviceInfo,
  readDeviceStatus,
  readKeepalive,
  readRecordInfo,
} from '../../../src/lib/gb28181/index.js'

/**
 * The MANSCDP adapter against bodies encoded by an independent converter (glibc's iconv, not the
 * iconv-lite we write with), in the shapes devices send: GB2312 and GB18030, names with a
 * character GB2312 lacks, UTF-8 under a GB2312 declaration, no declaration, element names in the
 * wrong case, extra whitespace and unknown elements; PTZCmd against the standard's examples.
 */

const iconv = (input: string | Buffer, from: string, to: string) => execFileSync('iconv', ['-f', from, '-t', to], { input })
const encode = (text: string, charset: string) => iconv(text, 'UTF-8', charset)

const catalog = (decl: string | null, names: string[]) => `${decl === null ? '' : `<?xml version="1.0" encoding="${decl}"?>\n`}<Response>
<CmdType>Catalog</CmdType>
<SN>17</SN>
<DeviceID>34020000001180000001</DeviceID>
<SumNum>${names.length + 3}</SumNum>
<DeviceList Num="${names.length}">
${names
  .map(
    (n, i) => `<Item>
  <DeviceID>3402000000132000000${i + 1}</DeviceID>
  <Name>${n}</Name>
  <Manufacturer>Hikvision</Manufacturer>
  <Model>DS-2CD3T47</Model>
  <Owner>Owner</Owner>
  <CivilCode>340200</CivilCode>
  <Address>东门</Address>
  <Parental>0</Parental>
  <ParentID>34020000001180000001</ParentID>
  <SafetyWay>0</SafetyWay>
  <RegisterWay>1</RegisterWay>
  <Secrecy>0</Secrecy>
  <Status>${i % 2 ? 'OFF' : 'ON'}</Status>
  <Longitude>118.${i}</Longitude>
  <Latitude>0</Latitude>
  <Info><PTZType>${i % 2 ? 3 : 1}</PTZType></Info>
  <VendorExtension>ignored</VendorExtension>
</Item>`,
  )
  .join('\n')}
</DeviceList>
</Response>`

const names = ['东门口 枪机', '北区 3 号楼 球机', '地下车库入口']

t.test('GB2312 catalog page from iconv: names, fields, kinds, paging', async (t) => {
  const m = parseManscdp(encode(catalog('GB2312', names), 'GB2312'))
  t.equal(m.root, 'Response')
  t.equal(m.encoding, 'GB2312')
  t.equal(m.sn, 17)
  const page = readCatalog(m)
  t.equal(page.sumNum, 6, 'SumNum: the whole catalog, more pages to come')
  t.same(page.items.map((i) => i.name), names, 'names decoded')
  const first = page.items[0]!
  t.equal(first.kind, 'ipc', 'type 132 is an IP camera')
  t.equal(first.status, 'on')
  t.equal(page.items[1]!.status, 'off')
  t.equal(first.ptzType, 'dome')
  t.equal(page.items[1]!.ptzType, 'fixed')
  t.equal(first.longitude, 118)
  t.equal(first.latitude, undefined, 'a 0 coordinate is no position')
  t.equal(first.address, '东门')
  t.equal(first.parentId, '34020000001180000001')
  t.equal(gbIdKind('34020000001180000001'), 'nvr')
})

t.test('a name GB2312 lacks (䶮, 𠀀) arrives intact in GB18030, and under a GB2312 declaration too', async (t) => {
  const rare = ['䶮山路 路口', '𠀀 测试']
  t.same(readCatalog(parseManscdp(encode(catalog('GB18030', rare), 'GB18030'))).items.map((i) => i.name), rare, 'declared GB18030')
  // devices declare GB2312 and write GBK/GB18030: read as the superset
  t.same(readCatalog(parseManscdp(encode(catalog('GB2312', rare), 'GB18030'))).items.map((i) => i.name), rare, 'declared GB2312, written GB18030')
})

t.test('UTF-8 bodies: declared, undeclared, and mislabelled GB2312', async (t) => {
  for (const decl of ['UTF-8', null, 'GB2312']) {
    const m = parseManscdp(Buffer.from(catalog(decl, names), 'utf8'))
    t.same(readCatalog(m).items.map((i) => i.name), names, `declaration ${decl ?? 'none'}`)
    t.equal(m.encoding, 'UTF-8', 'answered in UTF-8')
  }
})

t.test('lenient: element names in any case, whitespace, unknown elements', async (t) => {
  const body = `<?xml version="1.0" encoding="GB2312"?>
  <NOTIFY>
    <cmdtype> Keepalive </cmdtype>
    <Sn>  42 </Sn>
    <DeviceId>34020000001320000001</DeviceId>
    <STATUS>OK</STATUS>
    <Vendor><X>1</X></Vendor>
  </NOTIFY>`
  const m = parseManscdp(encode(body, 'GB2312'))
  t.equal(m.root, 'Notify')
  t.equal(m.cmdType, 'Keepalive')
  t.equal(m.sn, 42)
  t.same(readKeepalive(m), { deviceId: '34020000001320000001', ok: true, faultyChannels: [] })
})

t.test('not MANSCDP: clear errors, never a crash', async (t) => {
  const bad: [string, Buffer][] = [
    ['broken XML', Buffer.from('<Response><CmdType>Catalog</CmdType>')],
    ['no root we know', Buffer.from('<Foo><CmdType>x</CmdType></Foo>')],
    ['no CmdType', Buffer.from('<Notify><SN>1</SN></Notify>')],
    ['a DTD', Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Notify><CmdType>&a;</CmdType></Notify>')],
    ['binary', Buffer.from([0xff, 0xfe, 0, 1, 2, 3])],
    ['too large', Buffer.alloc(300 * 1024, 0x20)],
  ]
  for (const [name, body] of bad) t.throws(() => parseManscdp(body), ManscdpError, name)
})

t.test('device info, status, alarm, record info', async (t) => {
  const info = readDeviceInfo(parseManscdp(encode('<?xml version="1.0" encoding="GB2312"?><Response><CmdType>DeviceInfo</CmdType><SN>1</SN><DeviceID>34020000001180000001</DeviceID><DeviceName>录像机</DeviceName><Result>OK</Result><Manufacturer>Dahua</Manufacturer><Model>NVR4216</Model><Firmware>V4.0</Firmware><Channel>16</Channel></Response>', 'GB2312')))
  t.same(info, { deviceId: '34020000001180000001', ok: true, name: '录像机', manufacturer: 'Dahua', model: 'NVR4216', firmware: 'V4.0', channels: 16 })
  const status = readDeviceStatus(parseManscdp(Buffer.from('<Response><CmdType>DeviceStatus</CmdType><SN>2</SN><DeviceID>34020000001320000001</DeviceID><Result>OK</Result><Online>ONLINE</Online><Status>OK</Status><Record>OFF</Record><DeviceTime>2026-12-08T09:00:00</DeviceTime></Response>')))
  t.same(status, { deviceId: '34020000001320000001', online: true, ok: true, recording: false, deviceTime: '2026-12-08T09:00:00' })
  const alarmMsg = parseManscdp(encode('<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Alarm</CmdType><SN>9</SN><DeviceID>34020000001340000001</DeviceID><AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-12-08T02:03:04</AlarmTime><AlarmDescription>区域入侵</AlarmDescription><Longitude>118.3</Longitude><Latitude>31.2</Latitude><Info><AlarmType>7</AlarmType></Info></Notify>', 'GB2312'))
  t.same(readAlarm(alarmMsg), { deviceId: '34020000001340000001', sn: 9, priority: 1, method: 'video', type: 7, time: '2026-12-08T02:03:04', description: '区域入侵', longitude: 118.3, latitude: 31.2 })
  const answer = iconv(alarmResponse(alarmMsg), 'GB2312', 'UTF-8').toString()
  t.match(answer, /<Response>[\s\S]*<CmdType>Alarm<\/CmdType>[\s\S]*<SN>9<\/SN>[\s\S]*<DeviceID>34020000001340000001<\/DeviceID>[\s\S]*<Result>OK<\/Result>/, 'alarm answered with the same SN')
  const records = readRecordInfo(parseManscdp(Buffer.from('<Response><CmdType>RecordInfo</CmdType><SN>3</SN><DeviceID>34020000001320000001</DeviceID><SumNum>2</SumNum><RecordList Num="2"><Item><DeviceID>34020000001320000001</DeviceID><StartTime>2026-12-08T00:00:00</StartTime><EndTime>2026-12-08T01:00:00</EndTime><Type>time</Type></Item><Item><Name>no times</Name></Item></RecordList></Response>')))
  t.equal(records.sumNum, 2)
  t.same(records.items, [{ deviceId: '34020000001320000001', startTime: '2026-12-08T00:00:00', endTime: '2026-12-08T01:00:00', type: 'time' }], 'an item without times is skipped')
})

t.test('what we write: GB2312 an independent iconv reads back; GB18030 when a name needs it', async (t) => {
  const q = catalogQuery('34020000001320000001', 5)
  const back = iconv(q, 'GB2312', 'UTF-8').toString()
  t.match(back, /^<\?xml version="1.0" encoding="GB2312"\?>\r\n<Query>\r\n<CmdType>Catalog<\/CmdType>\r\n<SN>5<\/SN>\r\n<DeviceID>34020000001320000001<\/DeviceID>\r\n<\/Query>/)
  const gb = encodeBody('<?xml version="1.0" encoding="GB2312"?><Notify><Name>东门</Name></Notify>', 'GB2312')
  t.equal(iconv(gb, 'GB2312', 'UTF-8').toString(), '<?xml version="1.0" encoding="GB2312"?><Notify><Name>东门</Name></Notify>')
  const rare = encodeBody('<?xml version="1.0" encoding="GB2312"?><Notify><Name>䶮山</Name></Notify>', 'GB2312')
  t.match(rare.toString('latin1'), /encoding="GB18030"/, 'declared GB18030')
  t.equal(iconv(rare, 'GB18030', 'UTF-8').toString(), '<?xml version="1.0" encoding="GB18030"?><Notify><Name>䶮山</Name></Notify>', 'the name intact')
  t.same(decodeBody(rare).text.includes('䶮山'), true)
})

t.test('PTZCmd against the standard examples', async (t) => {
  t.equal(ptzStopCommand(), 'A50F0100000000B5', 'stop')
  t.equal(ptzMoveCommand({ pan: -31 / 255, tilt: 0, zoom: 0 }), 'A50F01021F0000D6', 'left at speed 0x1F')
  t.equal(presetCommand('goto', 1), 'A50F018200010038', 'go to preset 1')
  const upZoomIn = parsePtzCommand(ptzMoveCommand({ pan: 0, tilt: 1, zoom: 1 }))
  t.same(upZoomIn && { instruction: upZoomIn.instruction, tilt: upZoomIn.data2, zoom: upZoomIn.data3 }, { instruction: 0x18, tilt: 0xff, zoom: 0x0f })
  t.equal(parsePtzCommand('A50F0100000000B6'), undefined, 'a wrong checksum is refused')
  t.throws(() => presetCommand('set', 0))
  t.throws(() => ptzMoveCommand({ pan: 2, tilt: 0, zoom: 0 }))
})

t.test('SSRC as the INVITE writes it', async (t) => {
  // 1 digit live/history, digits 4–8 of the domain, a 4-digit sequence
  t.equal(gbSsrc('live', '3402000000', 12), '0200000012')
  t.equal(gbSsrc('playback', '3402000000', 12345), '1200002345')
})
