import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A device token: 32 random bytes, url-safe. Only its sha-256 is stored. */
export function newDeviceToken(): string {
  return `vxd_${randomBytes(32).toString('base64url')}`;
}

const DEVICE_TOKEN_SHAPE = /^vxd_[A-Za-z0-9_-]{43}$/;

/** Whether a string could be a device token at all; anything else is refused without a lookup. */
export function hasDeviceTokenShape(token: string): boolean {
  return DEVICE_TOKEN_SHAPE.test(token);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Constant-time comparison of two secrets. Both sides are hashed first so neither the content nor
 * the length of the expected secret leaks through timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
