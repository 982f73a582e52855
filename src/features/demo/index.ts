export { seedDemo, DEMO_PASSWORD, type DemoSummary } from './seed.js'
