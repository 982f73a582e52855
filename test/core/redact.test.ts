import t from 'tap'
import { redact, stripUrlCredentials } from '../../src/core/redact.js'

t.test('redact removes user:pass@ from any URL inside text', async (t) => {
  t.equal(redact('rtsp://admin:Hik12345@192.168.1.64:554/Streaming/Channels/101'), 'rtsp://***@192.168.1.64:554/Streaming/Channels/101')
  t.equal(redact('ffmpeg: opening http://user:pw@cam.local/onvif/device_service failed'), 'ffmpeg: opening http://***@cam.local/onvif/device_service failed')
  t.equal(redact('rtsp://onlyuser@10.0.0.1/live'), 'rtsp://***@10.0.0.1/live', 'a user name alone is removed too')
  t.equal(redact('two: rtsp://a:b@h1/x and rtsps://c:d@h2/y'), 'two: rtsp://***@h1/x and rtsps://***@h2/y')
  t.equal(redact('RTSP://Admin:Secret@H/'), 'RTSP://***@H/', 'scheme case does not matter')
})

t.test('a password containing @ (as technicians paste it, unencoded) does not leak its tail', async (t) => {
  const out = redact('rtsp://admin:p@ss@w0rd@10.0.0.1:554/Streaming/101')
  t.equal(out, 'rtsp://***@10.0.0.1:554/Streaming/101')
  t.notMatch(out, /w0rd|ss@/)
  t.equal(redact('rtsp://admin:a%40b@10.0.0.1/x'), 'rtsp://***@10.0.0.1/x', 'percent-encoded @')
})

t.test('an @ after the host (path, query) is not mistaken for userinfo', async (t) => {
  t.equal(redact('rtsp://10.0.0.1/live?user=a@b'), 'rtsp://10.0.0.1/live?user=a@b')
  t.equal(redact('mail ops@example.com about http://10.0.0.1/x'), 'mail ops@example.com about http://10.0.0.1/x')
})

t.test('redact masks key=value secrets', async (t) => {
  t.equal(redact('GET /snapshot?user=admin&password=hunter22&x=1'), 'GET /snapshot?user=admin&password=***&x=1')
  t.equal(redact('pwd=abc token=xyz secret=s passwd=p'), 'pwd=*** token=*** secret=*** passwd=***')
  t.equal(redact('nothing secret here'), 'nothing secret here')
})

t.test('stripUrlCredentials removes userinfo and leaves other URLs untouched', async (t) => {
  t.equal(stripUrlCredentials('rtsp://admin:pw@10.0.0.1:554/live'), 'rtsp://10.0.0.1:554/live')
  t.equal(stripUrlCredentials('rtsp://10.0.0.1:554/live'), 'rtsp://10.0.0.1:554/live')
  t.equal(stripUrlCredentials('not a url'), 'not a url')
  const broken = stripUrlCredentials('rtsp://admin:pw@[bad/live')
  t.notMatch(broken, /pw/, 'an unparsable URL is still redacted')
})

t.test('request URLs are decoded before redaction, so encoded secrets are caught', async (t) => {
  const { redactRequestUrl } = await import('../../src/core/redact.js')
  t.equal(redactRequestUrl('/api/cameras?q=' + encodeURIComponent('rtsp://admin:Hik12345@10.0.0.1/x')), '/api/cameras?q=rtsp://***@10.0.0.1/x')
  t.equal(redactRequestUrl('/snap?password%3DHik12345'), '/snap?password=***')
  t.equal(redactRequestUrl('/bad%E0%A4%A?u=rtsp%3A%2F%2Fa%3AHik12345%40h%2F'), '/bad%E0%A4%A?u=rtsp://***@h/', 'even beside a malformed escape')
  t.equal(redactRequestUrl('/api/cameras?q=%E6%B9%96%E6%BB%A8'), '/api/cameras?q=湖滨')
})

t.test('the production log serializer takes non-Error values under err without throwing', async (t) => {
  const { loggerOptions } = await import('../../src/app.js')
  const { loadConfig } = await import('../../src/core/config.js')
  const options = loggerOptions(loadConfig({ env: {} })) as { serializers: { err: (e: unknown) => { message: string } } }
  t.equal(options.serializers.err('rtsp://admin:secret@10.0.0.9/stream failed').message.includes('secret'), false)
  t.equal(options.serializers.err({ code: 'ECONNRESET' }).message, '{"code":"ECONNRESET"}')
  t.equal(options.serializers.err(undefined).message, 'undefined')
  t.equal(options.serializers.err(new Error('boom')).message, 'boom')
})
