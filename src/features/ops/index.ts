export { opsRoutes } from './routes.js'
