export { PtzService, PtzFeatureMissingError, PtzRejectedError } from './service.js'
export { ptzRoutes } from './routes.js'
