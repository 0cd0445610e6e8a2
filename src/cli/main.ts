#!/usr/bin/env node
import { processIo } from "./io.js";
import { runCli } from "./program.js";

// A reader that goes away (`workflow-store ls p | head`) is not an error of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

// exitCode rather than exit(), so that what is still buffered for stdout gets written.
process.exitCode = await runCli(processIo());
