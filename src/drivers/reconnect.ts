/** How long a lost listening connection is tried again before its watches end with the last error. */
export const RECONNECT_BOUND_MS = 60_000;

/**
 * SQLSTATE classes of a refused login that no retry mends (a changed password, a role that may no
 * longer log in, a dropped database): a listener that meets one gives up at once.
 */
const REFUSED = /^(28|3D)/;

/** Whether the server refused the login for good (see {@link REFUSED}). */
export function isRefusedLogin(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && REFUSED.test(code);
}
