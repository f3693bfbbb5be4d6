// Lets @comunica/query-sparql 5.4 load on Node.js 20. It depends on undici 8 (through
// @comunica/actor-http-fetch), which needs Node.js >= 22.19: at load time it binds
// zlib.createZstdDecompress and calls worker_threads.markAsUncloneable, both absent from Node 20, and
// fails with "TypeError: Cannot read properties of undefined (reading 'bind')". Neither is needed to
// query an endpoint that does not answer in zstd, so this preload (node --require) defines stand-ins.
// Not needed, and a no-op, on Node.js >= 22.19.
const zlib = require('node:zlib')
if (typeof zlib.createZstdDecompress !== 'function') {
  zlib.createZstdDecompress = () => { throw new Error('zstd decompression needs Node.js >= 22.15') }
  zlib.constants.ZSTD_d_windowLogMax = zlib.constants.ZSTD_d_windowLogMax ?? 100
}
const workerThreads = require('node:worker_threads')
if (typeof workerThreads.markAsUncloneable !== 'function') workerThreads.markAsUncloneable = () => {}
