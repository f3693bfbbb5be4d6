// Validate RDF with Zazuko's rdf-validate-shacl, a SHACL engine independent of pyshacl.
// Usage: node tests/node/shacl.mjs SHAPES.nt DATA.nt [DATA.nt …]
// Prints one JSON report per data file, one per line, in the order given.
import { readFileSync } from 'node:fs'
import rdf from '@zazuko/env-node'
import { Parser } from 'n3'
import SHACLValidator from 'rdf-validate-shacl'

function load (path) {
  const dataset = rdf.dataset()
  for (const quad of new Parser({ format: 'N-Triples' }).parse(readFileSync(path, 'utf8'))) dataset.add(quad)
  return dataset
}

const term = (t) => (t ? (t.termType === 'Literal' ? { literal: t.value, datatype: t.datatype?.value, language: t.language } : t.value) : null)
const [shapesPath, ...dataPaths] = process.argv.slice(2)
const shapes = load(shapesPath)
for (const dataPath of dataPaths) {
  const report = await new SHACLValidator(shapes, { factory: rdf }).validate(load(dataPath))
  console.log(JSON.stringify({
    data: dataPath,
    conforms: report.conforms,
    results: report.results.map((r) => ({
      focus: term(r.focusNode),
      path: term(r.path),
      value: term(r.value),
      severity: term(r.severity),
      messages: r.message.map((m) => m.value)
    }))
  }))
}
