// Validate RDF with Zazuko's rdf-validate-shacl, an engine independent of pyshacl.
// Usage: node tests/node/shacl.mjs DATA.nt SHAPES.nt  → prints a JSON report on stdout.
import { readFileSync } from 'node:fs'
import rdf from '@zazuko/env-node'
import { Parser } from 'n3'
import SHACLValidator from 'rdf-validate-shacl'

function load (path) {
  const dataset = rdf.dataset()
  for (const quad of new Parser({ format: 'N-Triples' }).parse(readFileSync(path, 'utf8'))) dataset.add(quad)
  return dataset
}

const [dataPath, shapesPath] = process.argv.slice(2)
const validator = new SHACLValidator(load(shapesPath), { factory: rdf })
const report = await validator.validate(load(dataPath))
const term = (t) => (t ? (t.termType === 'Literal' ? { literal: t.value, datatype: t.datatype?.value, language: t.language } : t.value) : null)
console.log(JSON.stringify({
  conforms: report.conforms,
  results: report.results.map((r) => ({
    focus: term(r.focusNode),
    path: term(r.path),
    value: term(r.value),
    severity: term(r.severity),
    shape: term(r.sourceShape),
    messages: r.message.map((m) => m.value)
  }))
}))
