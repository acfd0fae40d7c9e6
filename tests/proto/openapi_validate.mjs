#!/usr/bin/env node
// Validate an OpenAPI document file with @apidevtools/swagger-parser (schema + semantics:
// path parameters declared, operation ids unique, $refs resolve). Exit 0 when valid.
import SwaggerParser from '@apidevtools/swagger-parser';

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  console.log(`valid OpenAPI ${api.openapi}: ${Object.keys(api.paths).length} paths`);
} catch (e) {
  console.error('invalid: ' + e.message);
  process.exit(1);
}
