import { EventEmitter } from "node:events";
import { Readable, Writable } from "node:stream";
import { runCli } from "../../src/cli/program.js";
import { connectEmbedded } from "../../src/index.js";

/** Runs the command line in this process; resolves with its exit code and what it printed. */
export async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await runCli({
    args,
    env: {},
    cwd: process.cwd(),
    stdin: Readable.from([]),
    stdout: new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    }),
    stderr: new Writable({ write: (_chunk, _encoding, done) => done() }),
    signals: new EventEmitter(),
    setTitle: () => {},
    connectEmbedded,
  });
  return { code, out };
}
