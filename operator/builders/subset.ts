// Whether an applied object already holds every field of the desired one. The apiserver adds
// defaults (clusterIP, protocol, ...) and other managers add their own fields, so "contains" rather
// than "equals" decides whether a server-side apply would change anything.
export function containsDesired(actual: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => containsDesired(actual[i], d));
  }
  if (desired !== null && typeof desired === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(desired).every(([k, v]) => containsDesired((actual as Record<string, unknown>)[k], v));
  }
  return actual === desired;
}
