/**
 * PTZCmd (GB/T 28181 Annex A.3): 8 bytes written as 16 hex digits.
 *   1 A5 · 2 version (0) and a nibble check (A + 5 + 0 = F) → 0F · 3 address low byte ·
 *   4 instruction · 5 data 1 · 6 data 2 · 7 data 3 (high nibble) and address high nibble ·
 *   8 sum of bytes 1–7 modulo 256.
 * Instruction byte for a move: bit 5 zoom out (wide), 4 zoom in (tele), 3 up, 2 down, 1 left,
 * 0 right; data 1 pan speed, data 2 tilt speed, data 3 zoom speed (0–15). All zero is stop.
 * Presets: 0x81 set, 0x82 go to, 0x83 delete, with the preset number (1–255) in data 2.
 */

export interface PtzMove {
  /** -1 left … 1 right */
  pan: number
  /** -1 down … 1 up */
  tilt: number
  /** -1 wide (out) … 1 tele (in) */
  zoom: number
}

export type PresetOperation = 'set' | 'goto' | 'delete'

export class PtzCommandError extends Error {
  override readonly name = 'PtzCommandError'
}

function command(address: number, instruction: number, data1: number, data2: number, data3: number): string {
  if (!Number.isInteger(address) || address < 0 || address > 0xfff) throw new PtzCommandError(`address out of range: ${address}`)
  const bytes = [0xa5, 0x0f, address & 0xff, instruction & 0xff, data1 & 0xff, data2 & 0xff, ((data3 & 0x0f) << 4) | ((address >> 8) & 0x0f)]
  bytes.push(bytes.reduce((a, b) => a + b, 0) % 256)
  return bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join('')
}

const speed = (v: number, max: number) => Math.round(Math.min(1, Math.abs(v)) * max)

/** A continuous move at the given velocities (each -1…1); all zero is stop. */
export function ptzMoveCommand(move: PtzMove, address = 1): string {
  for (const [k, v] of Object.entries(move)) if (!Number.isFinite(v) || Math.abs(v) > 1) throw new PtzCommandError(`${k} must be between -1 and 1`)
  let instruction = 0
  if (move.pan > 0) instruction |= 0x01
  if (move.pan < 0) instruction |= 0x02
  if (move.tilt < 0) instruction |= 0x04
  if (move.tilt > 0) instruction |= 0x08
  if (move.zoom > 0) instruction |= 0x10
  if (move.zoom < 0) instruction |= 0x20
  return command(address, instruction, speed(move.pan, 0xff), speed(move.tilt, 0xff), speed(move.zoom, 0x0f))
}

export const ptzStopCommand = (address = 1) => command(address, 0, 0, 0, 0)

export function presetCommand(op: PresetOperation, preset: number, address = 1): string {
  if (!Number.isInteger(preset) || preset < 1 || preset > 255) throw new PtzCommandError(`preset must be 1–255, not ${preset}`)
  return command(address, op === 'set' ? 0x81 : op === 'goto' ? 0x82 : 0x83, 0, preset, 0)
}

/** Reads a PTZCmd back (tests, and logging what a peer asked for); undefined if its check bytes are wrong. */
export function parsePtzCommand(hex: string): { address: number; instruction: number; data1: number; data2: number; data3: number } | undefined {
  if (!/^[0-9A-Fa-f]{16}$/.test(hex)) return undefined
  const b = Array.from({ length: 8 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16))
  if (b[0] !== 0xa5 || ((b[1]! & 0x0f) !== ((0xa + 0x5 + (b[1]! >> 4)) & 0x0f))) return undefined
  if (b.slice(0, 7).reduce((a, x) => a + x, 0) % 256 !== b[7]) return undefined
  return { address: b[2]! | ((b[6]! & 0x0f) << 8), instruction: b[3]!, data1: b[4]!, data2: b[5]!, data3: b[6]! >> 4 }
}
