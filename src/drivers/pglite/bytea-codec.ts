/** PostgreSQL's type id of `bytea`. */
const BYTEA = 17;

/**
 * `bytea` for PGlite without its per-byte JavaScript: a parameter goes to the server as its bytes
 * (PGlite sends a serializer's `Uint8Array` in binary format), and a result comes back through
 * Buffer's hex codec. PGlite's own serializer and parser go through a JavaScript array and a string
 * per byte, and its hex text is measured out one character at a time, which makes a large value
 * take seconds per megabyte. The embedded store opens PGlite with it; pass it to `PGlite.create`
 * for a PGlite of the app's own.
 *
 * @example
 * const client = await PGlite.create({ dataDir: "./data", ...pgliteByteaCodec });
 */
export const pgliteByteaCodec = {
  serializers: {
    // PGlite's types say a serializer returns a string; its protocol writer sends an
    // ArrayBuffer view as a binary parameter, which `bytea` takes as it is.
    [BYTEA]: (value: unknown): string => {
      if (!(value instanceof Uint8Array)) throw new TypeError("a bytea parameter must be a Uint8Array");
      return value as unknown as string;
    },
  },
  parsers: {
    [BYTEA]: (text: string): Uint8Array => {
      const bytes = Buffer.from(text.slice(2), "hex");
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  },
};
