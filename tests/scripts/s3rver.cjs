// tests/scripts/s3rver.cjs: runs s3rver (pinned in package-lock.json) for the blob store tests
// and benches: 127.0.0.1, port 0 (the kernel picks one), one bucket, files in DIR.
// usage: node tests/scripts/s3rver.cjs DIR BUCKET
// Prints "PORT <n>" once listening; stops on SIGTERM/SIGINT or when stdin closes (so a test
// that dies does not leave it running).
'use strict';
const S3rver = require('s3rver');
const [dir, bucket] = process.argv.slice(2);
if (!dir || !bucket) {
  console.error('usage: node tests/scripts/s3rver.cjs DIR BUCKET');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory: dir,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
server.run().then((addr) => {
  process.stdout.write(`PORT ${addr.port}\n`);
}, (e) => {
  console.error(`s3rver: ${e.message}`);
  process.exit(1);
});
// close() waits for idle keep-alive connections; a client that keeps one open must not hold
// the stop up, so exit after a short grace period whatever close() is waiting for.
const stop = () => {
  setTimeout(() => process.exit(0), 1000).unref();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
