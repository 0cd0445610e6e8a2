import type { CaseContext } from "./conformance.js";

/** The conformance cases of leases. */
export function leaseCases(_context: CaseContext): void {}
