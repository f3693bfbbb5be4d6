// Expand a JSON-LD document with jsonld.js, convert the expansion to RDF and print it as N-Quads.
// Remote documents are refused: a published dump must read without fetching anything.
// Usage: node tests/node/jsonld-to-nquads.mjs FILE   → exit 1 with the reason on stderr if anything fails.
import { readFileSync } from 'node:fs'
import jsonld from 'jsonld'

const documentLoader = async (url) => {
  throw new Error(`refusing to fetch ${url}`)
}

const [path] = process.argv.slice(2)
try {
  const document = JSON.parse(readFileSync(path, 'utf8'))
  const expanded = await jsonld.expand(document, { documentLoader, safe: true })
  const nquads = await jsonld.toRDF(expanded, { format: 'application/n-quads', documentLoader, safe: true })
  process.stdout.write(nquads)
} catch (error) {
  console.error(`${path}: ${error.message}`)
  process.exit(1)
}
