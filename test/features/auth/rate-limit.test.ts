import t from 'tap'
import { UnknownNameLockouts } from '../../../src/features/auth/rate-limit.js'

t.test('unknown names lock after maxFailures, case-insensitively, and start a new count once the lockout ends', async (t) => {
  const l = new UnknownNameLockouts()
  const now = 1_000_000
  t.equal(l.recordFailure('Ghost', 3, 60_000, now), false)
  t.equal(l.recordFailure('ghost', 3, 60_000, now + 1), false)
  t.equal(l.lockedFor('GHOST', now + 2), 0)
  t.equal(l.recordFailure('ghost', 3, 60_000, now + 2), true, 'the third failure locks')
  t.equal(l.lockedFor('Ghost', now + 2), 60)
  t.equal(l.lockedFor('ghost', now + 30_002), 30)
  t.equal(l.lockedFor('other', now + 2), 0, 'other names are not affected')
  t.equal(l.lockedFor('ghost', now + 60_002), 0, 'the lockout ends')
  t.equal(l.recordFailure('ghost', 3, 60_000, now + 60_003), false, 'a new count: one failure does not lock again')
})

t.test('bounded: the least recently failed names go first', async (t) => {
  const l = new UnknownNameLockouts()
  const now = 5_000_000
  for (let i = 0; i < 3; i++) l.recordFailure('keep-me', 3, 60_000, now)
  for (let i = 0; i < UnknownNameLockouts.MAX_NAMES + 50; i++) {
    if (i === UnknownNameLockouts.MAX_NAMES - 10) l.recordFailure('keep-me', 3, 60_000, now) // refreshed: moves to the back
    l.recordFailure(`name-${i}`, 3, 60_000, now)
  }
  t.equal(l.size, UnknownNameLockouts.MAX_NAMES)
  t.ok(l.lockedFor('keep-me', now) > 0, 'a recently failing name is kept')
  t.equal(l.recordFailure('name-0', 3, 60_000, now), false, 'the oldest were dropped (its count starts again)')
})
