export { PtzService } from './service.js'
export { ptzRoutes } from './routes.js'
