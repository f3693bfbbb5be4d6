// Run SELECT queries with the Comunica engine against one source, in one process.
// Usage: node tests/node/comunica-select.mjs [--type TYPE] [--accept MEDIA-TYPE] [--repeat N] SOURCE QUERY.rq …
//   --type    the source's type for Comunica: sparql (the default), or auto to let Comunica find out from
//             what SOURCE answers (Triple and Quad Pattern Fragments are found this way)
//   --accept  send this Accept header on every request instead of Comunica's own (to choose a format)
//   --repeat  run each query N times (each time with Comunica's HTTP cache emptied first)
// Prints one JSON line per query and run: {"file": …, "rows": [{var: {termType, value, datatype, language}}],
// "requests": HTTP requests made, "urls": the URLs requested, in order, "ms": milliseconds from the
// query's start to its last row}.
import { readFileSync } from 'node:fs'
import { QueryEngine } from '@comunica/query-sparql'

const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at < 0 ? undefined : args.splice(at, 2)[1]
}
const type = option('--type') ?? 'sparql'
const accept = option('--accept')
const repeat = Number(option('--repeat') ?? 1)
const [source, ...files] = args
let urls = []
const counting = (input, init = {}) => {
  urls.push(String(input instanceof Request ? input.url : input))
  if (accept === undefined) return fetch(input, init)
  const headers = new Headers(init.headers)
  headers.set('accept', accept)
  return fetch(input, { ...init, headers })
}
const engine = new QueryEngine()
const term = (t) => ({ termType: t.termType, value: t.value, datatype: t.datatype?.value, language: t.language })
for (const file of files) {
  for (let run = 0; run < repeat; run += 1) {
    urls = []
    const started = performance.now()
    const sources = [type === 'auto' ? source : { type, value: source }]
    const stream = await engine.queryBindings(readFileSync(file, 'utf8'), { sources, fetch: counting })
    const rows = (await stream.toArray()).map((bindings) => Object.fromEntries([...bindings].map(([v, t]) => [v.value, term(t)])))
    const ms = performance.now() - started
    console.log(JSON.stringify({ file, rows, requests: urls.length, urls, ms }))
    await engine.invalidateHttpCache()
  }
}
