// Parse one RDF file with N3.js in strict mode (the exact format name: 'Turtle', 'TriG', 'N-Triples',
// 'N-Quads'), check every term (IRIs with validate-iri, literals against their datatype with
// rdf-validate-datatype), and print the quads as N-Quads on stdout.
// Usage: node tests/node/parse-strict.mjs FORMAT FILE   → exit 1 with the reason on stderr if anything fails.
import { readFileSync } from 'node:fs'
import { Parser, Writer } from 'n3'
import { validateIri, IriValidationStrategy } from 'validate-iri'
import { validateTerm } from 'rdf-validate-datatype'

const STRICT = ['Turtle', 'TriG', 'N-Triples', 'N-Quads']
const [format, path] = process.argv.slice(2)
if (!STRICT.includes(format)) {
  console.error(`format must be one of ${STRICT.join(', ')}`)
  process.exit(2)
}

function check (term) {
  if (term.termType === 'NamedNode') {
    const error = validateIri(term.value, IriValidationStrategy.Strict)
    if (error) throw new Error(`invalid IRI <${term.value}>: ${error.message}`)
  } else if (term.termType === 'Literal') {
    if (!validateTerm(term)) throw new Error(`invalid literal "${term.value}"^^<${term.datatype.value}>`)
  }
}

try {
  const quads = new Parser({ format }).parse(readFileSync(path, 'utf8'))
  for (const quad of quads) for (const term of [quad.subject, quad.predicate, quad.object, quad.graph]) check(term)
  const writer = new Writer({ format: 'N-Quads' })
  writer.addQuads(quads)
  writer.end((error, result) => {
    if (error) throw error
    process.stdout.write(result)
  })
} catch (error) {
  console.error(`${path}: ${error.message}`)
  process.exit(1)
}
