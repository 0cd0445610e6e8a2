import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** The folder of the child scripts compiled for this run: see {@link buildChildScripts}. */
    childScripts: string;
  }
}

/** The scripts in test/support that tests run as processes of their own. */
const CHILD_SCRIPTS = ["embedded-child", "lease-child", "load-writer", "watch-follower", "watch-writer"] as const;
export type ChildScript = (typeof CHILD_SCRIPTS)[number];

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Compiles the child scripts to JavaScript that node runs as it is, each into one file that takes
 * the package from dist/ (which the run builds first) and its dependencies from node_modules. A
 * process started through tsx spends about half a second of CPU on tsx's hooks before it does
 * anything, and the suite starts dozens. The files go under node_modules/.cache, from where node
 * finds the dependencies.
 */
export async function buildChildScripts(): Promise<string> {
  const outdir = join(root, "node_modules", ".cache", "drizzle-workflow-store-children");
  const sourceFolder = join(root, "src");
  await build({
    entryPoints: CHILD_SCRIPTS.map((name) => join(root, "test", "support", `${name}.ts`)),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    plugins: [
      {
        name: "package-from-dist",
        setup(context) {
          context.onResolve({ filter: /\/src\// }, (args) => {
            const source = resolve(args.resolveDir, args.path);
            if (!source.startsWith(`${sourceFolder}/`)) return undefined;
            return { path: join(root, "dist", source.slice(sourceFolder.length)), external: true };
          });
        },
      },
    ],
  });
  return outdir;
}

/** The file that runs `name` with node: `spawn(process.execPath, [childScript(name), ...args])`. */
export function childScript(name: ChildScript): string {
  return join(inject("childScripts"), `${name}.mjs`);
}
