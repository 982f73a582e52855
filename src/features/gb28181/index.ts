export { Gb28181Service, GbDeviceOfflineError, GbDeviceTimeoutError, type Gb28181Settings, type GbAudit, type DeviceView, type ChannelView, type CatalogResult } from './service.js'
export { gb28181Migrations } from './migrations.js'
export { gb28181Routes } from './routes.js'
