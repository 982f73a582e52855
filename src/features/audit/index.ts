export { AuditLog, type AuditActor, type AuditRecord } from './service.js'
export { auditMigrations } from './migrations.js'
export { auditRoutes } from './routes.js'
export type { ChainVerdict, AuditEntry } from './store.js'
