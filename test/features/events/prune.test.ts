import t from 'tap'
import { migrate, openDatabase } from '../../../src/core/db.js'
import { EventStreamService, eventsMigrations, type StreamEvent } from '../../../src/features/events/index.js'
import { orgMigrations } from '../../../src/features/org/index.js'
import { registryMigrations } from '../../../src/features/registry/index.js'

t.test('publisher: delivered after commit only, scoped, pruned by age and row cap', async (t) => {
  const db = openDatabase(':memory:')
  t.teardown(() => db.close())
  // delivery reads the visibility of the camera an event names from the registry's tables
  migrate(db, [...orgMigrations, ...registryMigrations, ...eventsMigrations])
  const stream = new EventStreamService(db)
  const got: StreamEvent[] = []
  stream.subscribe({ unitPath: '/1/2/', send: (e) => got.push(e) }, null)

  db.transaction(() => stream.publish('case.created', '/1/2/5/', { n: 1 }))()
  t.throws(() =>
    db.transaction(() => {
      stream.publish('case.created', '/1/2/5/', { n: 2 })
      throw new Error('rolled back')
    })(),
  )
  stream.publish('case.created', '/1/3/', { n: 3 }) // another subtree
  stream.publish('case.updated', '/1/2/', { n: 4 })
  await new Promise((r) => setImmediate(r))
  t.same(got.map((e) => (e.payload as { n: number }).n), [1, 4], 'committed, in scope, in order; the rolled-back one never pushed')

  db.prepare("UPDATE stream_events SET at = '2000-01-01T00:00:00.000Z' WHERE id = 1").run()
  t.equal(stream.prune(1, 1_000_000), 1, 'older than the retention')
  for (let i = 0; i < 200; i++) stream.publish('case.updated', '/1/2/', { n: i })
  stream.prune(365, 100)
  t.equal(db.prepare('SELECT count(*) FROM stream_events').pluck().get(), 100, 'row cap')
  stream.close()
})
