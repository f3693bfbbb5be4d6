// Run SELECT queries with the Comunica engine against one SPARQL endpoint, in one process.
// Usage: node tests/node/comunica-select.mjs ENDPOINT QUERY.rq [QUERY.rq …]
// Prints one JSON line per query: {"file": …, "rows": [{var: {termType, value, datatype, language}}]}.
import { readFileSync } from 'node:fs'
import { QueryEngine } from '@comunica/query-sparql'

const [endpoint, ...files] = process.argv.slice(2)
const engine = new QueryEngine()
const term = (t) => ({ termType: t.termType, value: t.value, datatype: t.datatype?.value, language: t.language })
for (const file of files) {
  const stream = await engine.queryBindings(readFileSync(file, 'utf8'), { sources: [{ type: 'sparql', value: endpoint }] })
  const rows = (await stream.toArray()).map((bindings) => Object.fromEntries([...bindings].map(([v, t]) => [v.value, term(t)])))
  console.log(JSON.stringify({ file, rows }))
}
