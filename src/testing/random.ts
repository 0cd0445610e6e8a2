/**
 * Seeded random inputs for the suite's property cases. The suite carries no property-testing
 * library (a user of `./testing` installs only vitest); instead each case draws from this
 * generator and names its seed when it fails, so that `storeConformance(target, { seed })`
 * replays the same inputs.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1) (mulberry32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  boolean(): boolean {
    return this.next() < 0.5;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** Up to `maxLength` items, each made by `make`. */
  array<T>(maxLength: number, make: () => T): T[] {
    return Array.from({ length: this.int(0, maxLength) }, make);
  }

  /** Up to `maxLength` random bytes. */
  bytes(maxLength: number): Uint8Array {
    return Uint8Array.from({ length: this.int(0, maxLength) }, () => this.int(0, 255));
  }

  /**
   * Up to `maxUnits` characters from all of Unicode, without NUL and without lone surrogates
   * (the store rejects both): ASCII, two-, three- and four-byte UTF-8, combining marks and
   * emoji joined by ZWJ, so that byte order and character counting both get exercised.
   */
  text(maxUnits: number): string {
    let text = "";
    for (let n = this.int(0, maxUnits); n > 0; n--) {
      switch (this.int(0, 5)) {
        case 0:
          text += String.fromCodePoint(this.int(0x01, 0x7f));
          break;
        case 1:
          text += String.fromCodePoint(this.int(0x80, 0x7ff));
          break;
        case 2: {
          const point = this.int(0x800, 0xffff - 0x800);
          // Skip the surrogate block, which holds no characters of its own.
          text += String.fromCodePoint(point >= 0xd800 ? point + 0x800 : point);
          break;
        }
        case 3:
          text += String.fromCodePoint(this.int(0x10000, 0x10ffff));
          break;
        case 4:
          text += `${this.pick(["e", "a", "n", "o"])}${String.fromCodePoint(this.int(0x300, 0x36f))}`;
          break;
        default:
          text += `${String.fromCodePoint(this.int(0x1f466, 0x1f469))}\u200d${String.fromCodePoint(this.int(0x1f466, 0x1f469))}`;
      }
    }
    return text;
  }
}

/** A seed for a run that was not given one. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** Inputs as a failure message shows them: bytes as hex, so that a failing case can be read. */
export function showInput(input: unknown): string {
  return JSON.stringify(input, (_, value: unknown) =>
    value instanceof Uint8Array ? `0x${Buffer.from(value).toString("hex")}` : value,
  );
}
