// validate_openapi.mjs — checks an OpenAPI document with a real validator from
// npm (@seriousme/openapi-schema-validator, which knows 3.0, 3.1 and 3.2).
// Used by test_openapi.py; never fetches anything from the network.
//
//   node validate_openapi.mjs FILE
//
// Prints one JSON line {valid, version, errors}. Exit 0 valid, 1 invalid,
// 3 validator not installed (scripts/deps.sh installs it under
// /usr/local/lib/lanes-test; LANES_NODE_MODULES overrides).
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.LANES_NODE_MODULES || "/usr/local/lib/lanes-test/node_modules";
const file = process.argv[2];
if (!file) {
    console.error("usage: node validate_openapi.mjs FILE");
    process.exit(2);
}

let Validator;
try {
    // An ES module is resolved from the importing file, not from NODE_PATH:
    // resolve the package from the test prefix explicitly.
    const req = createRequire(join(modules, "..", "resolver.cjs"));
    const entry = req.resolve("@seriousme/openapi-schema-validator");
    ({ Validator } = await import(pathToFileURL(entry).href));
} catch (e) {
    console.log(JSON.stringify({ missing: String(e.message || e) }));
    process.exit(3);
}

const v = new Validator();
const res = await v.validate(file);
console.log(JSON.stringify({ valid: res.valid, version: v.version || null, errors: res.errors || null }));
process.exit(res.valid ? 0 : 1);
