export { EventStreamService, type StreamEventTypes, type StreamEvent, type StreamPublisher, type StreamSubscriber } from './service.js'
export { eventsMigrations } from './migrations.js'
export { eventRoutes } from './routes.js'
