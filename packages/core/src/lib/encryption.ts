import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Thrown when a value cannot be opened; the message never contains the value. */
export class SealedValueError extends Error {
  override name = 'SealedValueError';
}

/** The 32-byte key of a 64-hex ENCRYPTION_KEY, or one derived from a generated secret of any length. */
function keyBytes(keyHexOrSecret: string): Buffer {
  return /^[0-9a-f]{64}$/i.test(keyHexOrSecret)
    ? Buffer.from(keyHexOrSecret, 'hex')
    : // A generated secret (embedded mode) of any length: derive 32 bytes from it.
      createHash('sha256').update(keyHexOrSecret).digest();
}

/**
 * A key's identifier, stored with each value it seals: the first 8 hex characters of the SHA-256
 * of its 32 bytes (`printf %s "$ENCRYPTION_KEY" | xxd -r -p | sha256sum | cut -c1-8`). It names
 * the key without revealing anything useful about it.
 */
export function keyId(keyHexOrSecret: string): string {
  return createHash('sha256').update(keyBytes(keyHexOrSecret)).digest('hex').slice(0, 8);
}

interface Key {
  id: string;
  bytes: Buffer;
}

const toKey = (k: string): Key => ({ id: keyId(k), bytes: keyBytes(k) });
const b64 = (s: string) => Buffer.from(s, 'base64url');

/**
 * Secrets at rest (CalDAV passwords, webhook signing secrets): AES-256-GCM, a fresh 96-bit nonce
 * per value, the authentication tag checked on the way out. Sealed values read
 * "v2.<key id>.<nonce>.<tag>.<ciphertext>" (base64url parts); `aad` (e.g. the owning row's id and
 * column) binds a value to its place, so a ciphertext copied to another row does not open.
 *
 * Key rotation: values are sealed under the current key; the previous keys (ENCRYPTION_KEY_PREVIOUS)
 * only open values, found by the key id a value carries. Values of the first format,
 * "v1.<nonce>.<tag>.<ciphertext>" (no key id), are tried with the current key, then the previous ones.
 */
export class SecretBox {
  private readonly current: Key;
  private readonly previous: Key[];

  constructor(keyHexOrSecret: string, previousKeys: readonly string[] = []) {
    this.current = toKey(keyHexOrSecret);
    const seen = new Set([this.current.id]);
    this.previous = [];
    for (const k of previousKeys.map(toKey)) {
      if (seen.has(k.id)) continue;
      seen.add(k.id);
      this.previous.push(k);
    }
  }

  /** The id of the key new values are sealed under. */
  get keyId(): string {
    return this.current.id;
  }

  /** The ids of the keys accepted for opening only. */
  get previousKeyIds(): string[] {
    return this.previous.map((k) => k.id);
  }

  /** Whether a stored value is in a sealed format (v1 or v2), as opposed to a clear one. */
  static isSealed(value: string): boolean {
    return /^v[12]\./.test(value);
  }

  /** Whether a sealed value is already under the current key in the current format (nothing to re-seal). */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`v2.${this.current.id}.`);
  }

  seal(plaintext: string, aad: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.bytes, nonce);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [nonce, cipher.getAuthTag(), body].map((b) => b.toString('base64url'));
    return ['v2', this.current.id, ...parts].join('.');
  }

  open(sealed: string, aad: string): string {
    const parts = sealed.split('.');
    if (parts[0] === 'v2' && parts.length === 5) {
      const [, id, nonce, tag, body] = parts as [string, string, string, string, string];
      const key = [this.current, ...this.previous].find((k) => k.id === id);
      if (!key)
        throw new SealedValueError(
          `sealed under an unknown key (key id ${id}): add that key to ENCRYPTION_KEY_PREVIOUS`,
        );
      const opened = decrypt(key, nonce, tag, body, aad);
      if (opened === undefined)
        throw new SealedValueError(
          `does not open with key ${id} (altered, or copied from another row or column)`,
        );
      return opened;
    }
    if (parts[0] === 'v1' && parts.length === 4) {
      const [, nonce, tag, body] = parts as [string, string, string, string];
      for (const key of [this.current, ...this.previous]) {
        const opened = decrypt(key, nonce, tag, body, aad);
        if (opened !== undefined) return opened;
      }
      throw new SealedValueError(
        'does not open with any known key (its key is missing from ENCRYPTION_KEY_PREVIOUS, or the value was altered or copied from another row or column)',
      );
    }
    throw new SealedValueError('is not a sealed value');
  }

  /** Opens a value sealed under any known key and seals it again under the current one. */
  reseal(sealed: string, aad: string): string {
    return this.seal(this.open(sealed, aad), aad);
  }
}

/** The plaintext, or undefined when the tag does not match (wrong key, wrong aad, altered value). */
function decrypt(key: Key, nonce: string, tag: string, body: string, aad: string): string | undefined {
  try {
    // A 16-byte tag and no shorter: Node would otherwise accept a truncated one.
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, b64(nonce), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(b64(tag));
    return Buffer.concat([decipher.update(b64(body)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
