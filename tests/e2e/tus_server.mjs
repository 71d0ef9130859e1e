// A tus server nobody here wrote: @tus/server + @tus/file-store (npm, pinned), for the interop tests.
// Usage: node tus_server.mjs '<json>' with {port, directory, maxSize}. Listens on 127.0.0.1 only,
// answers Location root-relative ("/files/<id>": the page must resolve it against the creation URL,
// not against its own origin), and allows CORS from pages on 127.0.0.1 (the tests' portals).
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const args = JSON.parse(process.argv[2])
const server = new Server({
  path: '/files',
  datastore: new FileStore({ directory: args.directory }),
  maxSize: args.maxSize,
  relativeLocation: true,
  allowedOrigins: (origin) => /^http:\/\/127\.0\.0\.1:\d+$/.test(origin),
})
const listener = server.listen({ host: '127.0.0.1', port: args.port })
listener.on('listening', () => console.log(JSON.stringify({ listening: args.port })))
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => listener.close(() => process.exit(0)))
