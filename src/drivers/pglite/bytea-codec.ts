/** PostgreSQL's type id of `bytea`. */
const BYTEA = 17;

/**
 * `bytea` as PGlite's own serializer and parser take and give it (`\x` hex text, a `Uint8Array`),
 * through Buffer's hex codec. PGlite's go through a JavaScript array and a string per byte, which
 * makes a large value take seconds per megabyte. The embedded
 * store opens PGlite with it; pass it to `PGlite.create` for a PGlite of the app's own.
 *
 * @example
 * const client = await PGlite.create({ dataDir: "./data", ...pgliteByteaCodec });
 */
export const pgliteByteaCodec = {
  serializers: {
    [BYTEA]: (value: unknown): string => {
      if (!(value instanceof Uint8Array)) throw new TypeError("a bytea parameter must be a Uint8Array");
      return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
    },
  },
  parsers: {
    [BYTEA]: (text: string): Uint8Array => {
      const bytes = Buffer.from(text.slice(2), "hex");
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  },
};
