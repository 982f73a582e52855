export { cidrHas, cidrWithin, formatIp, IpParseError, parseIp, parseIpCidr, parseIPv4Loose, type IpAddress, type IpCidr } from './ip.js'
export { AddressPolicy, RefusedAddressError, type AddressPolicyOptions, type AddressRefusal, type ConnectGuard, type Endpoint, type RefusalKind } from './policy.js'
export { CameraHttpError, fetchCameraImage, imageTypeOf, type CameraHttpErrorCode, type CameraImage, type CameraImageOptions, type ImageType } from './http-image.js'
