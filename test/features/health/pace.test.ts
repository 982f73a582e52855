import t from 'tap'
import { scheduledPaceMs } from '../../../src/features/health/service.js'

t.test('a scheduled sweep spreads a large fleet over half the interval, but not a small one', async (t) => {
  t.equal(scheduledPaceMs(60, 10_000), 3, '10,000 cameras: 3 ms apart, 30 s in all')
  t.equal(scheduledPaceMs(60, 41), 25, '41 demo cameras: 25 ms apart (1 s in all), not 0.73 s apart')
  t.equal(scheduledPaceMs(60, 0), 25, 'no cameras: no division by zero')
  t.ok(scheduledPaceMs(60, 1_200) * 1_200 <= 30_000, 'never longer than half the interval')
})
