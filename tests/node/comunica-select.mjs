// Run SELECT queries with the Comunica engine against one source, in one process.
// Usage: node tests/node/comunica-select.mjs [--type TYPE] [--accept MEDIA-TYPE] SOURCE QUERY.rq [QUERY.rq …]
//   --type    the source's type for Comunica: sparql (the default), or auto to let Comunica find out from
//             what SOURCE answers (Triple and Quad Pattern Fragments are found this way)
//   --accept  send this Accept header on every request instead of Comunica's own (to choose a format)
// Prints one JSON line per query: {"file": …, "rows": [{var: {termType, value, datatype, language}}],
// "requests": HTTP requests made, "ms": milliseconds from the query's start to its last row}.
import { readFileSync } from 'node:fs'
import { QueryEngine } from '@comunica/query-sparql'

const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at < 0 ? undefined : args.splice(at, 2)[1]
}
const type = option('--type') ?? 'sparql'
const accept = option('--accept')
const [source, ...files] = args
let requests = 0
const counting = (input, init = {}) => {
  requests += 1
  if (accept === undefined) return fetch(input, init)
  const headers = new Headers(init.headers)
  headers.set('accept', accept)
  return fetch(input, { ...init, headers })
}
const engine = new QueryEngine()
const term = (t) => ({ termType: t.termType, value: t.value, datatype: t.datatype?.value, language: t.language })
for (const file of files) {
  requests = 0
  const started = performance.now()
  const sources = [type === 'auto' ? source : { type, value: source }]
  const stream = await engine.queryBindings(readFileSync(file, 'utf8'), { sources, fetch: counting })
  const rows = (await stream.toArray()).map((bindings) => Object.fromEntries([...bindings].map(([v, t]) => [v.value, term(t)])))
  const ms = performance.now() - started
  console.log(JSON.stringify({ file, rows, requests, ms }))
  await engine.invalidateHttpCache()
}
