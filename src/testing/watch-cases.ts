import type { CaseContext } from "./conformance.js";

/** The conformance cases of watchs. */
export function watchCases(_context: CaseContext): void {}
