import t from 'tap'
import { parseRtspUrl, redactUrl, RtspConnectionError, RtspError } from '../../../src/lib/rtsp/index.js'

t.test('parseRtspUrl strips credentials from the request URL', async (t) => {
  t.same(parseRtspUrl('rtsp://admin:12345@192.168.1.64:554/Streaming/Channels/101'), {
    url: 'rtsp://192.168.1.64:554/Streaming/Channels/101',
    host: '192.168.1.64',
    port: 554,
    username: 'admin',
    password: '12345',
  })
  t.match(parseRtspUrl('rtsp://cam.local/live'), { url: 'rtsp://cam.local/live', port: 554, username: undefined })
  t.match(parseRtspUrl('rtsp://admin:p%40ss@10.0.0.5/x'), { username: 'admin', password: 'p@ss', host: '10.0.0.5' })
  t.match(parseRtspUrl('rtsp://admin:p@ss/w0rd@10.0.0.5:8554/x?y=1'), {
    url: 'rtsp://10.0.0.5:8554/x?y=1',
    username: 'admin',
    password: 'p@ss/w0rd',
    port: 8554,
  })
  t.match(parseRtspUrl('rtsp://[fe80::1]:554/a'), { host: 'fe80::1', port: 554 })
  t.equal(parseRtspUrl('http://10.0.0.5/'), undefined)
  t.equal(parseRtspUrl('rtsp://10.0.0.5:99999/'), undefined)
})

t.test('redactUrl and error messages never carry credentials', async (t) => {
  t.equal(redactUrl('DESCRIBE rtsp://admin:p@ss@10.0.0.5/x failed'), 'DESCRIBE rtsp://***@10.0.0.5/x failed')
  t.equal(redactUrl('a rtsp://u:p@h/x and http://v:q@h2/'), 'a rtsp://***@h/x and http://***@h2/')
  t.equal(redactUrl('rtsp://h/x'), 'rtsp://h/x')
  const err = new RtspConnectionError('cannot reach rtsp://admin:secret@10.0.0.5/')
  t.notMatch(err.message, /secret/)
  t.ok(err instanceof RtspError)
})
