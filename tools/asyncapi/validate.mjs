// Checks bakeplan's contract documents (docs/contract.md):
//
//   node tools/asyncapi/validate.mjs docs/asyncapi.json [--schemas docs/schemas --golden tests/golden]
//
// 1. Parses the AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser) and prints
//    its diagnostics; any of severity error fails. Warnings, infos and hints are printed only.
// 2. With --schemas and --golden: validates every golden message file <event_type>.v<N>.json against
//    the JSON Schema of the same name (draft 2020-12, formats checked), so the schemas other teams'
//    producers use accept exactly what bakeplan writes and what old producers wrote.
//
// Exits 1 on any error, 2 on a usage error, 0 otherwise.
import { readFile, readdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DiagnosticSeverity, Parser } from "@asyncapi/parser";
import Ajv2020Module from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;
const SEVERITY = {
  [DiagnosticSeverity.Error]: "error",
  [DiagnosticSeverity.Warning]: "warning",
  [DiagnosticSeverity.Information]: "info",
  [DiagnosticSeverity.Hint]: "hint",
};
const MAX_LINES = 40; // a broken $ref repeats one error at every place that uses it

function usage(message) {
  console.error(`${message}\nusage: node validate.mjs ASYNCAPI_DOCUMENT [--schemas DIR --golden DIR]`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { document: undefined, schemas: undefined, golden: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--schemas" || arg === "--golden") {
      if (i + 1 >= argv.length) usage(`${arg} needs a directory`);
      args[arg.slice(2)] = argv[(i += 1)];
    } else if (args.document === undefined) {
      args.document = arg;
    } else {
      usage(`unexpected argument ${arg}`);
    }
  }
  if (!args.document) usage("no document given");
  if ((args.schemas === undefined) !== (args.golden === undefined)) usage("give --schemas and --golden together");
  return args;
}

async function checkDocument(file) {
  const path = resolve(file);
  const text = await readFile(path, "utf8");
  const { document, diagnostics } = await new Parser().parse(text, { source: pathToFileURL(path).href });
  let errors = 0;
  diagnostics.forEach((d, n) => {
    if (d.severity === DiagnosticSeverity.Error) errors += 1;
    if (n < MAX_LINES) {
      const where = d.path && d.path.length ? d.path.join(".") : "(document)";
      const at = d.range ? `${d.range.start.line + 1}:${d.range.start.character + 1}` : "-";
      console.log(`${file}:${at}: ${SEVERITY[d.severity] ?? d.severity} ${d.code}: ${d.message} (at ${where})`);
    }
  });
  if (diagnostics.length > MAX_LINES) console.log(`... and ${diagnostics.length - MAX_LINES} more diagnostic(s)`);
  if (errors > 0 || document === undefined) {
    console.log(`${file}: invalid AsyncAPI: ${errors} error(s) among ${diagnostics.length} diagnostic(s)`);
    return false;
  }
  console.log(
    `${file}: valid AsyncAPI ${document.version()}: ${document.channels().length} channels, ` +
      `${document.messages().length} messages, ${document.operations().length} operations ` +
      `(${diagnostics.length} diagnostic(s), none an error)`,
  );
  return true;
}

async function checkGolden(schemasDir, goldenDir) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const goldens = (await readdir(goldenDir)).filter((name) => /\.v\d+\.json$/.test(name)).sort();
  let failed = 0;
  for (const name of goldens) {
    let schema;
    try {
      schema = JSON.parse(await readFile(join(schemasDir, name), "utf8"));
    } catch (error) {
      console.log(`${join(goldenDir, name)}: no schema ${join(schemasDir, name)} (${error.code ?? error.message})`);
      failed += 1;
      continue;
    }
    const validate = ajv.compile(schema);
    const body = JSON.parse(await readFile(join(goldenDir, name), "utf8"));
    if (!validate(body)) {
      failed += 1;
      for (const e of validate.errors.slice(0, 5)) {
        console.log(`${join(goldenDir, name)}: ${e.instancePath || "(root)"} ${e.message} (schema ${e.schemaPath})`);
      }
    }
  }
  if (goldens.length === 0) {
    console.log(`${goldenDir}: no golden files <event_type>.v<N>.json`);
    return false;
  }
  console.log(`${basename(schemasDir)}: ${goldens.length - failed} of ${goldens.length} golden files match their schema`);
  return failed === 0;
}

const args = parseArgs(process.argv.slice(2));
let ok = await checkDocument(args.document);
if (args.schemas !== undefined) ok = (await checkGolden(args.schemas, args.golden)) && ok;
process.exit(ok ? 0 : 1);
