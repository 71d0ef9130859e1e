// Drives tus-js-client (the reference tus client, pinned in package.json) against a server.
// Usage: node tus_client.cjs '<json>' with {endpoint, token, file, name, type, mode, chunkSize, cutAt}.
// Prints one JSON line: what happened, including every PATCH's Upload-Offset, so the
// Python test can check what went over the wire.
//   mode "upload":    upload the file; resolve with the upload URL
//   mode "chunks":    abort after the first chunk, then resume with the stored URL (uploadUrl)
//   mode "resume":    continue the upload at args.uploadUrl (e.g. one cut mid-request) from the server's offset
//   mode "terminate": abort(true) after the first chunk (tus termination: DELETE)
'use strict'
const fs = require('fs')
const tus = require('tus-js-client')

const args = JSON.parse(process.argv[2])
const data = fs.readFileSync(args.file)

function run (extra, onStart) {
  const patches = []
  return new Promise((resolve) => {
    const upload = new tus.Upload(data, {
      endpoint: args.endpoint,
      headers: { Authorization: 'Bearer ' + args.token },
      metadata: { filename: args.name, filetype: args.type },
      chunkSize: args.chunkSize || Infinity,
      retryDelays: [],
      removeFingerprintOnSuccess: true,
      storeFingerprintForResuming: false,
      onBeforeRequest (req) {
        if (req.getMethod() === 'PATCH') patches.push(Number(req.getHeader('Upload-Offset')))
      },
      onSuccess () { resolve({ ok: true, url: upload.url, patches }) },
      onError (err) {
        const res = err.originalResponse
        resolve({
          ok: false,
          url: upload.url,
          patches,
          status: res ? res.getStatus() : 0,
          body: res ? res.getBody() : String(err),
          tusResumable: res ? res.getHeader('Tus-Resumable') : null
        })
      },
      ...extra(() => upload, resolve, patches)
    })
    if (onStart) onStart(upload)
    upload.start()
  })
}

const stopAfterFirstChunk = (terminate) => (get, resolve, patches) => ({
  onChunkComplete (chunkSize, accepted) {
    get().abort(terminate).then(() => resolve({ ok: false, aborted: true, url: get().url, accepted, patches }))
  }
})

async function main () {
  let result
  if (args.mode === 'upload') {
    result = await run(() => ({}))
  } else if (args.mode === 'terminate') {
    result = await run(stopAfterFirstChunk(true))
  } else if (args.mode === 'resume') {
    result = await run(() => ({ uploadUrl: args.uploadUrl }))
  } else {
    const first = await run(stopAfterFirstChunk(false))
    // A new Upload object, as after a reload: only the stored URL carries over.
    const second = await run(() => ({ uploadUrl: first.url }))
    result = { first, second }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((err) => { process.stdout.write(JSON.stringify({ crashed: String(err) }) + '\n'); process.exit(1) })
