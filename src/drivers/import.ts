import { StoreError } from "../core/errors.js";

const MODULE_NOT_FOUND = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"]);

/**
 * Loads a driver the app chose to install (drivers are optional peer dependencies), turning its
 * absence into a `CONFIG` error that names the package to install.
 */
export async function importDriver<T>(packageName: string, factory: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && MODULE_NOT_FOUND.has(code) && String(error).includes(packageName)) {
      throw new StoreError(
        "CONFIG",
        { op: "config" },
        `${factory} needs the ${packageName} package, which is not installed: npm install ${packageName} ` +
          `(with npx, add -p ${packageName})`,
        { cause: error },
      );
    }
    throw error;
  }
}
