// Node's server for `make bench`: tls.createServer with an echo on
// 'secureConnection' (the pipe() idiom: back-pressure, and end() when the client ends).
// Usage: node bench/node_server.js PORT CERT KEY   (listens on 127.0.0.1:PORT)
// Node's defaults otherwise (TLS 1.3 session tickets on); noDelay as every server in the
// benchmark sets TCP_NODELAY.
'use strict';
const fs = require('fs');
const tls = require('tls');

const [port, cert, key] = process.argv.slice(2);
if (!port || !cert || !key) {
  console.error('usage: node bench/node_server.js PORT CERT KEY');
  process.exit(2);
}
const server = tls.createServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
  noDelay: true,
});
server.on('secureConnection', (socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.on('tlsClientError', () => {});
server.listen(Number(port), '127.0.0.1');
