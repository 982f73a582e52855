import t from 'tap'
import { startTestGateway } from './gateway.js'

t.test('the test harness starts a demo gateway and signs in', async (t) => {
  const gw = await startTestGateway(t)
  const token = await gw.login('street.patrol')
  const res = await gw.as(token).get('/api/cameras?limit=5')
  t.equal(res.statusCode, 200)
  t.equal(res.json.items.length, 5)
})
