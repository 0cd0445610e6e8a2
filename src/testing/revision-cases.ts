import type { CaseContext } from "./conformance.js";

/** The conformance cases of revisions. */
export function revisionCases(_context: CaseContext): void {}
