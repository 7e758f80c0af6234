import { randomBytes, randomUUID } from "node:crypto";

/** Crockford's base32, the ULID alphabet (no I, L, O, U). */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
const lastRandom = new Uint8Array(10);

function encodeTime(time: number): string {
  let out = "";
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/**
 * A monotonic ULID: sortable by creation time, and strictly increasing within one process even when
 * many ids are made in the same millisecond (the random part is incremented).
 *
 * @example
 * const id = ulid(); // "01JD3Z9W6K3Q8Y2V5T0N4R7M1C"
 */
export function ulid(now: number = Date.now()): string {
  if (now <= lastTime) {
    // Same (or earlier, after a clock step back) millisecond: increment the random part.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      if (lastRandom[i]! < 255) {
        lastRandom[i]! += 1;
        break;
      }
      lastRandom[i] = 0;
    }
    return encodeTime(lastTime) + encodeRandom(lastRandom);
  }
  lastTime = now;
  lastRandom.set(randomBytes(10));
  return encodeTime(now) + encodeRandom(lastRandom);
}

export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function isUlid(value: string): boolean {
  return ULID_PATTERN.test(value);
}

/** A fresh, unguessable fencing token for one attempt. */
export function newToken(): string {
  return randomUUID();
}

/** How many characters of an id its short form keeps. */
export const SHORT_ID_LENGTH = 6;

/**
 * The short form of a job id, shown wherever a person reads ids (D59): its last 6 characters, from
 * the ULID's random part. Ids made close together share their first 10 characters (the time), so a
 * prefix a person can type is almost always ambiguous; the end of the random part is not (ids made
 * in one millisecond differ in their last characters). Any reference of 6+ characters that ends
 * an id finds it; a collision is an `AMBIGUOUS_ID` naming both, never a guess.
 *
 * @example
 * shortId("01JD3Z9W6K3Q8Y2V5T0N4R7M1C"); // "4R7M1C"
 */
export function shortId(id: string): string {
  return id.length > SHORT_ID_LENGTH ? id.slice(-SHORT_ID_LENGTH) : id;
}

/**
 * The keys a store looks a reference up by: an id prefix (4+ characters) and a short id (the last 6
 * characters of a reference of 6+). `null` where the reference is too short to be one.
 */
export function referenceKeys(reference: string): { prefix: string | null; suffix: string | null } {
  const upper = reference.toUpperCase();
  return {
    prefix: upper.length >= 4 ? upper : null,
    suffix: upper.length >= SHORT_ID_LENGTH ? upper.slice(-SHORT_ID_LENGTH) : null,
  };
}

/**
 * Whether a row a store found for `reference` really is a candidate: a text range is only a
 * prefix under a bytewise collation, which a PostgreSQL database may not have.
 */
export function isCandidate(
  job: { id: string; name: string | null; project: string | null },
  reference: string,
  project: string | undefined,
): boolean {
  const { prefix, suffix } = referenceKeys(reference);
  return (
    (prefix !== null && job.id.startsWith(prefix)) ||
    (suffix !== null && job.id.endsWith(suffix)) ||
    (job.name === reference && (project === undefined || job.project === project))
  );
}
