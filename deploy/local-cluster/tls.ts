import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import path from 'node:path';

/**
 * A self-signed certificate for localhost (and 127.0.0.1) with OpenSSL: an EC P-256 key, for TLS
 * 1.3. Writes `cert.pem` and `key.pem` (0600) into `dir`; clients trust `cert.pem` as their CA.
 */
export function makeSelfSignedCertificate(dir: string, days = 30): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      String(days),
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  chmodSync(keyFile, 0o600);
  return { certFile, keyFile };
}
