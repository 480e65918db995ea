// The committed OpenAPI document and the SDK's generated types must be what the server serves
// today: after changing a route, run `npm run sdk:generate` and commit the result.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SPEC_FILE, serverSpec, specText, TYPES_FILE, typesOf } from '../generate';

describe('SDK', () => {
  it('openapi.json is the document the server builds (else: npm run sdk:generate)', async () => {
    expect(readFileSync(SPEC_FILE, 'utf8')).toBe(specText(await serverSpec()));
  });

  it('schema.d.ts is generated from openapi.json (else: npm run sdk:generate)', async () => {
    const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8'));
    expect(readFileSync(TYPES_FILE, 'utf8')).toBe(await typesOf(spec));
  });
});
