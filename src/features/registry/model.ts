/** The registry's own vocabulary. Vendor terms are mapped to these at the adapters. */
export const CAMERA_KINDS = ['fixed', 'ptz', 'dome', 'door_access', 'checkpoint'] as const
export type CameraKind = (typeof CAMERA_KINDS)[number]

export const CAMERA_CLASSES = [1, 2, 3] as const
export type CameraClass = (typeof CAMERA_CLASSES)[number]

export const CAMERA_STATUSES = ['unknown', 'online', 'degraded', 'offline'] as const
export type CameraStatus = (typeof CAMERA_STATUSES)[number]

export const CODECS = ['h264', 'h265', 'mjpeg', 'other'] as const
export type Codec = (typeof CODECS)[number]

export interface StreamProfile {
  uri: string
  codec: Codec | null
  width: number | null
  height: number | null
  fps: number | null
  profileToken: string | null
}

export interface Camera {
  id: number
  unitId: number
  name: string
  class: CameraClass
  kind: CameraKind
  location: { lat: number | null; lon: number | null; address: string | null }
  onvifUrl: string | null
  endpointRef: string | null
  device: { manufacturer: string | null; model: string | null; serial: string | null; firmware: string | null }
  streams: { main: StreamProfile | null; sub: StreamProfile | null }
  snapshotUri: string | null
  capabilities: { ptz: boolean; events: boolean; ptzFeatures: PtzFeatures | null }
  tags: string[]
  enabled: boolean
  sharedUpward: boolean
  hasCredentials: boolean
  credentialsUpdatedAt: string | null
  clockOffsetMs: number | null
  status: CameraStatus
  statusReasons: string[]
  statusChangedAt: string | null
  createdAt: string
  updatedAt: string
}

/**
 * What the camera's PTZ head can do, read from its PTZ node at adoption/refresh; null: not known
 * (registered by hand, or the camera did not say), every move is tried.
 */
export interface PtzFeatures {
  panTilt: { continuous: boolean; relative: boolean; absolute: boolean }
  zoom: { continuous: boolean; relative: boolean; absolute: boolean }
  presets: boolean
}

export interface CameraCredentials {
  username: string
  password: string
}

/** What a client may set. Absent fields keep their value on update; null clears. */
export interface CameraInput {
  unitId?: number
  name?: string
  class?: CameraClass
  kind?: CameraKind
  location?: { lat?: number | null; lon?: number | null; address?: string | null }
  onvifUrl?: string | null
  endpointRef?: string | null
  device?: { manufacturer?: string | null; model?: string | null; serial?: string | null; firmware?: string | null }
  streams?: { main?: Partial<StreamProfile> & { uri: string } | null; sub?: Partial<StreamProfile> & { uri: string } | null }
  snapshotUri?: string | null
  capabilities?: { ptz?: boolean; events?: boolean; ptzFeatures?: PtzFeatures | null }
  tags?: string[]
  enabled?: boolean
  sharedUpward?: boolean
  credentials?: CameraCredentials | null
  clockOffsetMs?: number | null
}

export interface CameraFilter {
  unitId?: number
  class?: CameraClass
  kind?: CameraKind
  status?: CameraStatus
  enabled?: boolean
  tag?: string
  q?: string
}
