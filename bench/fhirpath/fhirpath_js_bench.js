// Baseline: HL7's JavaScript FHIRPath engine (npm fhirpath) evaluating the same search-parameter
// expressions (written by fhirpath_bench --exprs-out) on the same Synthea resources.
//   node fhirpath_js_bench.js NODE_MODULES_DIR EXPRS.json SYNTHEA_DIR [ROUNDS]
'use strict';
const path = require('path');
const fs = require('fs');
const [nodeModules, exprsFile, dataDir, roundsArg] = process.argv.slice(2);
const fhirpath = require(path.join(nodeModules, 'fhirpath'));
const model = require(path.join(nodeModules, 'fhirpath/fhir-context/r4'));
const rounds = Math.max(1, parseInt(roundsArg || '3', 10));

const exprs = JSON.parse(fs.readFileSync(exprsFile, 'utf8'));
const texts = [];
for (const f of fs.readdirSync(dataDir).filter((f) => f.endsWith('.json')).sort()) {
  const b = JSON.parse(fs.readFileSync(path.join(dataDir, f), 'utf8'));
  for (const e of b.entry) texts.push(JSON.stringify(e.resource));
}
const resources = texts.map((t) => JSON.parse(t));
const compiled = {};
for (const [type, list] of Object.entries(exprs)) {
  compiled[type] = list.map((e) => fhirpath.compile(e, model));
}

let bestParse = Infinity;
let bestEval = Infinity;
let items = 0;
let errors = 0;
for (let r = 0; r < rounds; r++) {
  let t0 = process.hrtime.bigint();
  let sink = 0;
  for (const t of texts) sink += JSON.parse(t) ? 1 : 0;
  let t1 = process.hrtime.bigint();
  items = 0;
  errors = 0;
  for (const res of resources) {
    for (const f of compiled[res.resourceType] || []) {
      try {
        items += f(res).length;
      } catch (e) {
        errors++;
      }
    }
  }
  let t2 = process.hrtime.bigint();
  bestParse = Math.min(bestParse, Number(t1 - t0) / 1e9);
  bestEval = Math.min(bestEval, Number(t2 - t1) / 1e9);
  if (sink < 0) console.log('');
}
const n = resources.length;
console.log(`JS JSON.parse only:              ${(bestParse / n * 1e6).toFixed(2).padStart(8)} us/resource  (total ${bestParse.toFixed(3)} s)`);
console.log(`JS fhirpath.js extract all:      ${(bestEval / n * 1e6).toFixed(2).padStart(8)} us/resource  (total ${bestEval.toFixed(3)} s), result items: ${items}, errors: ${errors}`);
console.log(JSON.stringify({ js_parse_us: bestParse / n * 1e6, js_extract_us: bestEval / n * 1e6, items }));
