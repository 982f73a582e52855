export { WallService, type TourInput } from './service.js'
export { wallMigrations } from './migrations.js'
export { wallRoutes } from './routes.js'
export { WALL_SIZES, type WallLayout, type WallSize, type Tour } from './store.js'
