/**
 * Returns the `exp` claim (seconds since the epoch) of a JWT without
 * verifying it, or undefined when the token is not a JWT with a numeric exp.
 * Only used to schedule `auth.refresh`; the server verifies tokens.
 *
 * @internal
 */
export function jwtExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}
