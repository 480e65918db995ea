// The .tmbackup file format: a fixed header, then the payload encrypted with AES-256-GCM in chunks.
//
//   offset size  field
//        0    4  magic "TMBK"
//        4    1  format version (1)
//        5    1  kind: 1 = PostgreSQL (pg_dump --format=custom), 2 = embedded PGlite (see pglite container)
//        6    1  compression of the payload before encryption: 0 = none (pg_dump compresses), 1 = gzip
//        7    1  key source: 1 = BACKUP_KEY, 2 = BACKUP_PASSPHRASE, 3 = ENCRYPTION_KEY,
//                4 = the embedded key file DATA_DIR/encryption-key
//        8    1  KDF: 1 = HKDF-SHA256 (a 32-byte key or key file), 2 = scrypt (a passphrase)
//        9    1  scrypt log2(N)  (0 for HKDF)
//       10    1  scrypt r        (0 for HKDF)
//       11    1  scrypt p        (0 for HKDF)
//       12    4  chunk size in bytes (big-endian; 65536)
//       16    8  creation time, milliseconds since 1970 (big-endian)
//       24   16  salt (random per file)
//       40   12  base nonce (random per file)
//       52       chunks
//
// The file key is HKDF-SHA256(key, salt, "taskman-backup-v1") or scrypt(passphrase, salt, N, r, p):
// a fresh key per file. The plaintext is cut into chunks of `chunk size` bytes; each is stored as
// its ciphertext followed by the 16-byte GCM tag. Every chunk but the last is full; the last holds
// 0 to `chunk size` bytes (so there always is one). Chunk i is sealed with the nonce
// base nonce XOR i (in the last 8 bytes, big-endian) and the additional data
// header (52 bytes) || i (8 bytes, big-endian) || last (1 byte: 1 for the last chunk, else 0),
// so a changed header, reordered or dropped chunks, a truncated file and appended data all fail
// authentication.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const MAGIC = 'TMBK';
export const FORMAT_VERSION = 1;
export const HEADER_LENGTH = 52;
export const TAG_LENGTH = 16;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK_SIZE = 1024;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const HKDF_INFO = 'taskman-backup-v1';

/** Scrypt cost for passphrases: 2^17 × 8 × 128 bytes = 128 MiB of memory, a fraction of a second. */
export const SCRYPT = { log2N: 17, r: 8, p: 1 } as const;
// A header is untrusted input: bound the work and memory a crafted one can ask for.
const SCRYPT_LIMITS = { log2N: 20, r: 16, p: 4 } as const;

export const DECRYPT_FAILED = 'backup could not be decrypted: wrong key or damaged file';

/** A failure to report in one line (the CLI prints the message and exits with 1). */
export class BackupError extends Error {
  override name = 'BackupError';
}

export const KINDS = { postgres: 1, pglite: 2 } as const;
export type BackupKind = keyof typeof KINDS;
export const KEY_SOURCES = { BACKUP_KEY: 1, BACKUP_PASSPHRASE: 2, ENCRYPTION_KEY: 3, embedded: 4 } as const;
export type KeySource = keyof typeof KEY_SOURCES;
const KDF = { hkdf: 1, scrypt: 2 } as const;

export interface Header {
  version: number;
  kind: BackupKind;
  gzip: boolean;
  keySource: KeySource;
  kdf: keyof typeof KDF;
  scrypt: { log2N: number; r: number; p: number };
  chunkSize: number;
  createdAt: Date;
  salt: Buffer;
  baseNonce: Buffer;
  /** The header's 52 bytes, as written: part of every chunk's additional data. */
  bytes: Buffer;
}

/** Key material: 32 bytes (or a key file's text) for HKDF, or a passphrase for scrypt. */
export type KeyMaterial = { source: KeySource } & (
  | { kdf: 'hkdf'; ikm: Buffer }
  | { kdf: 'scrypt'; passphrase: string }
);

const keyOf = <T extends Record<string, number>>(map: T, value: number): keyof T | undefined =>
  (Object.keys(map) as (keyof T)[]).find((k) => map[k] === value);

export function newHeader(opts: {
  kind: BackupKind;
  gzip: boolean;
  key: KeyMaterial;
  chunkSize?: number;
  now?: Date;
}): Header {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE)
    throw new RangeError(`chunk size must be between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes`);
  const scryptParams = opts.key.kdf === 'scrypt' ? { ...SCRYPT } : { log2N: 0, r: 0, p: 0 };
  const bytes = Buffer.alloc(HEADER_LENGTH);
  bytes.write(MAGIC, 0, 'latin1');
  bytes.writeUInt8(FORMAT_VERSION, 4);
  bytes.writeUInt8(KINDS[opts.kind], 5);
  bytes.writeUInt8(opts.gzip ? 1 : 0, 6);
  bytes.writeUInt8(KEY_SOURCES[opts.key.source], 7);
  bytes.writeUInt8(KDF[opts.key.kdf], 8);
  bytes.writeUInt8(scryptParams.log2N, 9);
  bytes.writeUInt8(scryptParams.r, 10);
  bytes.writeUInt8(scryptParams.p, 11);
  bytes.writeUInt32BE(chunkSize, 12);
  bytes.writeBigUInt64BE(BigInt((opts.now ?? new Date()).getTime()), 16);
  randomBytes(16).copy(bytes, 24);
  randomBytes(12).copy(bytes, 40);
  return parseHeader(bytes);
}

/** Reads a header; anything but a well-formed version-1 header of a known kind is refused. */
export function parseHeader(bytes: Buffer): Header {
  if (bytes.length < HEADER_LENGTH || bytes.toString('latin1', 0, 4) !== MAGIC)
    throw new BackupError('not a Taskman backup file (no TMBK header)');
  const version = bytes.readUInt8(4);
  if (version !== FORMAT_VERSION)
    throw new BackupError(
      `backup format version ${version} is not supported (this Taskman reads version ${FORMAT_VERSION})`,
    );
  const kind = keyOf(KINDS, bytes.readUInt8(5));
  const compression = bytes.readUInt8(6);
  const keySource = keyOf(KEY_SOURCES, bytes.readUInt8(7));
  const kdf = keyOf(KDF, bytes.readUInt8(8));
  const scryptParams = { log2N: bytes.readUInt8(9), r: bytes.readUInt8(10), p: bytes.readUInt8(11) };
  const chunkSize = bytes.readUInt32BE(12);
  const scryptOk =
    kdf !== 'scrypt' ||
    (scryptParams.log2N >= 10 &&
      scryptParams.log2N <= SCRYPT_LIMITS.log2N &&
      scryptParams.r >= 1 &&
      scryptParams.r <= SCRYPT_LIMITS.r &&
      scryptParams.p >= 1 &&
      scryptParams.p <= SCRYPT_LIMITS.p);
  if (
    !kind ||
    compression > 1 ||
    !keySource ||
    !kdf ||
    (kdf === 'scrypt') !== (keySource === 'BACKUP_PASSPHRASE') ||
    !scryptOk ||
    chunkSize < MIN_CHUNK_SIZE ||
    chunkSize > MAX_CHUNK_SIZE
  )
    throw new BackupError(DECRYPT_FAILED);
  const header = Buffer.from(bytes.subarray(0, HEADER_LENGTH));
  return {
    version,
    kind,
    gzip: compression === 1,
    keySource,
    kdf,
    scrypt: scryptParams,
    chunkSize,
    createdAt: new Date(Number(header.readBigUInt64BE(16))),
    salt: header.subarray(24, 40),
    baseNonce: header.subarray(40, 52),
    bytes: header,
  };
}

/** The file key: HKDF for keys, scrypt (with the header's parameters) for a passphrase. */
export async function deriveFileKey(header: Header, key: KeyMaterial): Promise<Buffer> {
  if (key.kdf !== header.kdf) throw new BackupError(DECRYPT_FAILED);
  if (key.kdf === 'hkdf') return Buffer.from(hkdfSync('sha256', key.ikm, header.salt, HKDF_INFO, 32));
  const { log2N, r, p } = header.scrypt;
  const N = 2 ** log2N;
  return new Promise((resolve, reject) =>
    scrypt(
      key.passphrase.normalize('NFC'),
      header.salt,
      32,
      { N, r, p, maxmem: 128 * N * r * p + 32 * 1024 * 1024 },
      (err, derived) => (err ? reject(err) : resolve(derived)),
    ),
  );
}

function nonceFor(base: Buffer, index: bigint): Buffer {
  const nonce = Buffer.from(base);
  nonce.writeBigUInt64BE(nonce.readBigUInt64BE(4) ^ index, 4);
  return nonce;
}

function aadFor(header: Header, index: bigint, last: boolean): Buffer {
  const aad = Buffer.alloc(HEADER_LENGTH + 9);
  header.bytes.copy(aad, 0);
  aad.writeBigUInt64BE(index, HEADER_LENGTH);
  aad.writeUInt8(last ? 1 : 0, HEADER_LENGTH + 8);
  return aad;
}

/** Collects buffers and hands out exact-size slices without copying more than needed. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.length += chunk.length;
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.parts[0]!;
      const used = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(used);
    }
    this.length -= n;
    return out;
  }
}

/** Plaintext in, chunks out (the header is written separately, before them). */
export class EncryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private index = 0n;

  constructor(
    private readonly header: Header,
    private readonly key: Buffer,
  ) {
    super();
  }

  private seal(plain: Buffer, last: boolean): Buffer {
    const cipher = createCipheriv('aes-256-gcm', this.key, nonceFor(this.header.baseNonce, this.index));
    cipher.setAAD(aadFor(this.header, this.index, last));
    const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    this.index++;
    return body;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.queue.push(chunk);
    // Strictly more than a chunk: a full chunk followed by more data is not the last one.
    while (this.queue.length > this.header.chunkSize)
      this.push(this.seal(this.queue.take(this.header.chunkSize), false));
    done();
  }

  override _flush(done: TransformCallback): void {
    this.push(this.seal(this.queue.take(this.queue.length), true));
    done();
  }
}

/** Chunks in, plaintext out; a chunk's plaintext is passed on only once its tag has been checked. */
export class DecryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private index = 0n;
  private readonly record: number;

  constructor(
    private readonly header: Header,
    private readonly key: Buffer,
  ) {
    super();
    this.record = header.chunkSize + TAG_LENGTH;
  }

  private open(record: Buffer, last: boolean): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonceFor(this.header.baseNonce, this.index));
    decipher.setAAD(aadFor(this.header, this.index, last));
    decipher.setAuthTag(record.subarray(record.length - TAG_LENGTH));
    try {
      const plain = Buffer.concat([
        decipher.update(record.subarray(0, record.length - TAG_LENGTH)),
        decipher.final(),
      ]);
      this.index++;
      return plain;
    } catch {
      throw new BackupError(DECRYPT_FAILED);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.queue.push(chunk);
      while (this.queue.length > this.record) this.push(this.open(this.queue.take(this.record), false));
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.queue.length < TAG_LENGTH) throw new BackupError(DECRYPT_FAILED);
      this.push(this.open(this.queue.take(this.queue.length), true));
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}
