import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/** One Prometheus registry per gateway instance (tests run several in one process). */
export function createMetrics(): { registry: Registry; httpDuration: Histogram<'method' | 'route' | 'status'> } {
  const registry = new Registry()
  // The event-loop lag histogram samples with a libuv timer at this period. prom-client's default
  // (10 ms) woke an idle gateway 100 times a second: 0.3–0.4 % of a core doing nothing, more than
  // Janus relaying a camera. At 50 ms a stall of 50 ms or more is still always seen.
  collectDefaultMetrics({ register: registry, prefix: 'gateway_', eventLoopMonitoringPrecision: 50 })
  const httpDuration = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  })
  return { registry, httpDuration }
}
