// N crypto.pbkdf2 and M zlib.gzip calls on libuv's thread pool (its
// workers wait on a pthread condvar):
//   UV_THREADPOOL_SIZE=4 node bench/uv_pool.js [N] [M]     (default 200 200)
// Prints a digest of the sorted results, the same under any library.
const crypto = require('crypto'), zlib = require('zlib');
const n = +process.argv[2] || 200, m = +process.argv[3] || 200;
const out = [];
let left = n + m;
const done = (s) => { out.push(s); if (--left === 0) { out.sort(); console.log(crypto.createHash('sha256').update(out.join()).digest('hex')); } };
for (let i = 0; i < n; i++) crypto.pbkdf2('pw' + i, 'salt', 2000, 32, 'sha256', (e, k) => done(k.toString('hex')));
const data = Buffer.alloc(64 * 1024, 'abcdefgh');
for (let i = 0; i < m; i++) zlib.gzip(data, (e, z) => done(String(z.length)));
