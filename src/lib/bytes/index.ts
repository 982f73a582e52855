export { ByteArena } from './arena.js'
