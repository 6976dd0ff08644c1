// validate_openapi.mjs — checks an OpenAPI document with a real validator from
// npm (@seriousme/openapi-schema-validator, which knows 3.0, 3.1 and 3.2).
// Used by test_openapi.py; never fetches anything from the network.
//
//   node validate_openapi.mjs FILE [ANSWERS]
//
// The OpenAPI validator checks the document's structure but takes each schema
// object on trust; so every schema in it (parameters, request bodies,
// responses, components) is also compiled by Ajv's JSON Schema 2020-12
// validator in strict mode, which refuses an unknown keyword or a wrong
// type. ANSWERS (optional): a JSON list of real answers
// [{path, method, status, body}] that must fit the schema the document gives
// for that status ("path" as in the document, "/notes/{id}").
//
// Prints one JSON line {valid, version, errors, schemas, schema_errors,
// answers, answer_errors}. Exit 0 valid, 1 invalid, 3 validator not installed
// (scripts/deps.sh installs it under /usr/local/lib/lanes-test;
// LANES_NODE_MODULES overrides).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.LANES_NODE_MODULES || "/usr/local/lib/lanes-test/node_modules";
const file = process.argv[2];
const answersFile = process.argv[3];
if (!file) {
    console.error("usage: node validate_openapi.mjs FILE");
    process.exit(2);
}

let Validator, Ajv2020;
try {
    // An ES module is resolved from the importing file, not from NODE_PATH:
    // resolve the package from the test prefix explicitly.
    const req = createRequire(join(modules, "..", "resolver.cjs"));
    const entry = req.resolve("@seriousme/openapi-schema-validator");
    ({ Validator } = await import(pathToFileURL(entry).href));
    Ajv2020 = req("ajv/dist/2020").default;
} catch (e) {
    console.log(JSON.stringify({ missing: String(e.message || e) }));
    process.exit(3);
}

const v = new Validator();
const res = await v.validate(file);
const doc = JSON.parse(readFileSync(file, "utf8"));

// Every schema object in the document, with where it is.
function* schemas(d) {
    for (const [name, s] of Object.entries((d.components || {}).schemas || {}))
        yield ["components/" + name, s];
    for (const [path, item] of Object.entries(d.paths || {})) {
        for (const [method, op] of Object.entries(item)) {
            for (const p of op.parameters || [])
                yield [`${method} ${path} parameter ${p.name}`, p.schema];
            for (const [ct, c] of Object.entries((op.requestBody || {}).content || {}))
                yield [`${method} ${path} requestBody ${ct}`, c.schema];
            for (const [code, r] of Object.entries(op.responses || {}))
                for (const [ct, c] of Object.entries(r.content || {}))
                    yield [`${method} ${path} ${code} ${ct}`, c.schema];
        }
    }
}

// Component references ("#/components/schemas/X") resolve in a schema that
// holds the components as its $defs.
const ajv = new Ajv2020({ strict: true, allErrors: true });
const fix = (s) => JSON.parse(JSON.stringify(s).replaceAll('"#/components/schemas/', '"doc#/$defs/'));
ajv.addSchema({ $id: "doc", $defs: fix((doc.components || {}).schemas || {}) });
let nschemas = 0;
const schemaErrors = [];
const compiled = new Map();
for (const [where, s] of schemas(doc)) {
    nschemas++;
    try {
        compiled.set(where, ajv.compile(fix(s)));
    } catch (e) {
        schemaErrors.push(where + ": " + (e.message || e));
    }
}

const answerErrors = [];
let nanswers = 0;
if (answersFile) {
    for (const a of JSON.parse(readFileSync(answersFile, "utf8"))) {
        nanswers++;
        const key = `${a.method.toLowerCase()} ${a.path} ${a.status} application/json`;
        const check = compiled.get(key);
        if (!check) {
            answerErrors.push(`${key}: the document gives no JSON schema for this answer`);
        } else if (!check(a.body)) {
            answerErrors.push(`${key}: ` + JSON.stringify(check.errors));
        }
    }
}

const ok = res.valid && schemaErrors.length === 0 && answerErrors.length === 0;
console.log(JSON.stringify({ valid: res.valid, version: v.version || null, errors: res.errors || null,
                             schemas: nschemas, schema_errors: schemaErrors,
                             answers: nanswers, answer_errors: answerErrors }));
process.exit(ok ? 0 : 1);
