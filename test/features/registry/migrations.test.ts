import t from 'tap'
import { migrate, openDatabase } from '../../../src/core/db.js'
import { EventBus } from '../../../src/core/events.js'
import { AuditLog, auditMigrations } from '../../../src/features/audit/index.js'
import { orgMigrations } from '../../../src/features/org/index.js'
import { registryMigrations } from '../../../src/features/registry/index.js'

t.test('upgrading a store from before registry-002: a camera deleted before the upgrade keeps its id to itself', async (t) => {
  const db = openDatabase(':memory:')
  const before = [auditMigrations, orgMigrations, registryMigrations].flat().filter((m) => m.id.endsWith('-001'))
  migrate(db, before)
  const now = new Date().toISOString()
  db.prepare("INSERT INTO units (id, tier, code, name, path, created_at, updated_at) VALUES (1, 'street', 'JD01', '街道', '/1/', ?, ?)").run(now, now)
  const addCamera = db.prepare("INSERT INTO cameras (unit_id, name, class, kind, serial, created_at, updated_at) VALUES (1, ?, 1, 'fixed', ?, ?, ?)")
  for (const n of [1, 2, 3, 4]) addCamera.run(`camera ${n}`, `SN${n}`, now, now)
  const audit = new AuditLog(db, new EventBus())
  // Cameras 3 and 4 were deleted: 4 was the highest id, so SQLite would give it out again.
  for (const id of [3, 4]) {
    db.prepare('DELETE FROM cameras WHERE id = ?').run(id)
    audit.record({ actor: { system: 'test' }, action: 'camera.delete', target: { type: 'camera', id }, unitPath: '/1/', detail: {} })
  }

  t.same(migrate(db, [auditMigrations, orgMigrations, registryMigrations].flat()), ['audit-002', 'org-002', 'registry-002', 'registry-003-ptz-features'])
  t.same(db.prepare('SELECT id, name FROM cameras ORDER BY id').all(), [{ id: 1, name: 'camera 1' }, { id: 2, name: 'camera 2' }], 'the cameras, as they were')
  t.same(db.prepare('SELECT rowid FROM cameras_fts WHERE cameras_fts MATCH ?').pluck().all('SN2'), [2], 'the text search (serial) still finds them')
  addCamera.run('camera 5', 'SN5', now, now)
  t.equal(db.prepare("SELECT id FROM cameras WHERE name = 'camera 5'").pluck().get(), 5, 'the next camera is 5: 4 is known from the audit log')
  t.same(db.prepare('SELECT rowid FROM cameras_fts WHERE cameras_fts MATCH ?').pluck().all('SN5'), [5], 'and its triggers keep the text search current')
  t.throws(() => addCamera.run('duplicate serial', 'SN1', now, now), /UNIQUE/, 'the unique serial index is back')
  t.throws(() => db.prepare("INSERT INTO cameras (unit_id, name, class, kind, created_at, updated_at) VALUES (99, 'x', 1, 'fixed', ?, ?)").run(now, now), /FOREIGN KEY/, 'and the unit key enforced')
  db.close()
})
