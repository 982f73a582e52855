export { EventStreamService, type StreamEventTypes, type StreamEvent, type StreamPublisher, type StreamSubscriber, type PublishOptions } from './service.js'
export { eventsMigrations } from './migrations.js'
export { eventRoutes } from './routes.js'
