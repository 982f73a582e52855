export { HealthService, unitRates, liveStateFrom, type LiveStateSource, type CameraHealth, type SweepReport, type Problem } from './service.js'
export { healthMigrations } from './migrations.js'
export { healthRoutes } from './routes.js'
export { CHECK_NAMES, ALL_REASONS, FAILURE_REASONS, DEGRADED_REASONS, type CheckResult, type HealthSettings, type Reason } from './model.js'
