import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * Secrets at rest (a CalDAV password): AES-256-GCM under ENCRYPTION_KEY, a fresh 96-bit nonce per
 * value, the authentication tag checked on the way out. Stored as "v1.<nonce>.<tag>.<ciphertext>"
 * in base64url; `aad` (e.g. the owning row's id) binds a value to its row, so a ciphertext copied
 * to another row does not decrypt.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(keyHexOrSecret: string) {
    this.key = /^[0-9a-f]{64}$/i.test(keyHexOrSecret)
      ? Buffer.from(keyHexOrSecret, 'hex')
      : // A generated secret (embedded mode) of any length: derive 32 bytes from it.
        createHash('sha256').update(keyHexOrSecret).digest();
  }

  seal(plaintext: string, aad: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [nonce, cipher.getAuthTag(), body].map((b) => b.toString('base64url'));
    return [VERSION, ...parts].join('.');
  }

  open(sealed: string, aad: string): string {
    const [version, nonce, tag, body] = sealed.split('.');
    if (version !== VERSION || !nonce || !tag || body === undefined) throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  }
}
