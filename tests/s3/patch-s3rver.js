'use strict';
// patch-s3rver.js DIR - fixes, in the test copy of s3rver 3.7.1 installed
// under DIR/node_modules/s3rver, the bugs that bite sealfs's S3 tests. It
// patches only that copy, idempotently, and fails loudly if a file does not
// look like 3.7.1. It never relaxes anything the client is checked against:
//  1. PUT Object answered before the object was on disk, and wrote it in
//     place (a concurrent GET could see a torn object): write a temporary
//     file, wait for it to be closed, rename it over the object.
//  2. Upload Part answered before the part was on disk: wait for the close.
//  3. Listing walked directories in readdir order, so ListObjectsV2 pages were
//     not in key order and continuation skipped or repeated keys; with a
//     delimiter it dropped common prefixes two levels down. List every key
//     under the prefix, sort, then page.
//  4. An unknown multipart upload id gave 500 (or created an upload
//     directory on Upload Part): answer 404 NoSuchUpload like S3.
//  5. AbortMultipartUpload (DELETE ?uploadId) was 405: implement it.
//  6. V4 signatures were never checked (any secret was accepted): check them
//     (s3rver-sigv4-verify.js), so a wrong secret gets SignatureDoesNotMatch.
//  7. Continuation tokens used DES, missing from Node 20's OpenSSL 3.
//  8. PUT Object ignored If-Match and If-None-Match (conditional writes, which
//     AWS S3 honours since 2024): check them and write under one lock per key
//     (412 PreconditionFailed; If-Match on a missing key 404 NoSuchKey, as
//     AWS). With S3RVER_IGNORE_CONDITIONAL=1 in the server's environment it
//     ignores them again, as older servers do (tests of sealfs's probe).
//  9. ListMultipartUploads (GET /bucket?uploads) was NotImplemented:
//     implement it over the upload directories s3rver keeps, sorted by key
//     and upload id, paged by max-uploads, key-marker and upload-id-marker.
//     An upload's Initiated time is the modification time of its "key" file
//     (written by CreateMultipartUpload), so a test can age an upload by
//     setting that time (utimes) under the server's data directory.
// 10. A PUT Object or Upload Part whose client went away (kill -9) during an
//     await before the body was read never settled, and a PUT Object kept
//     its key's lock (8.) for good: settle it (onClientGone, below).
// 11. A listing walked the bucket with readdir then stat of each entry, and
//     answered 500 InternalError (ENOENT) when an entry went between the two
//     (a DELETE, a PUT's temporary file renamed, a directory a DELETE
//     removed); a DELETE's removal of emptied directories answered 500 when
//     another request removed or filled one first. Skip what went; stop the
//     clean-up at a directory gone or no longer empty.

const fs = require('fs');
const path = require('path');

const dir = path.join(process.argv[2], 'node_modules', 's3rver');
const MARK = path.join(dir, '.sealfs-patched-7');
// The SigV4 checker is copied on every run, so a change to it needs no
// reinstall. Every test's set-up runs this while other tests' servers run, and
// a server loads the checker at its first signed request (a lazy require):
// copyFileSync truncated the file and wrote it again in place, so a server
// could load it empty, keep that empty module for good and answer every
// signed request 500 InternalError (CI's s3mount-devices failed so at its
// first `sealfs init`). So: left alone when unchanged, else a whole new file
// renamed over it; a server loads the old file or the new one, never a part.
function installChecker() {
  const src = fs.readFileSync(path.join(__dirname, 's3rver-sigv4-verify.js'));
  const dst = path.join(dir, 'lib', 'middleware', 'sigv4-verify.js');
  let cur = null;
  try {
    cur = fs.readFileSync(dst);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  if (cur !== null && cur.equals(src)) return;
  const tmp = `${dst}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, src);
  fs.renameSync(tmp, dst);
}
if (fs.existsSync(path.join(dir, 'lib', 'middleware'))) installChecker();
if (fs.existsSync(MARK)) process.exit(0);
// patched by another version of this script: the caller reinstalls (exit 3)
if (fs.readdirSync(dir).some(f => f.startsWith('.sealfs-patched-'))) process.exit(3);

const version = require(path.join(dir, 'package.json')).version;
if (version !== '3.7.1') {
  console.error(`patch-s3rver: expected s3rver 3.7.1, found ${version}`);
  process.exit(1);
}

function patch(file, edits) {
  const p = path.join(dir, file);
  let s = fs.readFileSync(p, 'utf8');
  for (const [from, to] of edits) {
    if (!s.includes(from)) {
      console.error(`patch-s3rver: ${file}: expected text not found:\n${from}`);
      process.exit(1);
    }
    s = s.replace(from, to);
  }
  fs.writeFileSync(p, s);
}

// 1. PUT Object: temporary file, closed, then renamed.
// 10. A request body stream whose client went away (kill -9 of the client)
//     before the store read it: Node destroyed it, and no 'aborted', 'error'
//     or 'end' ever comes to a listener added later (after an await:
//     mkdirp, the conditional check, waiting for the key's lock), so the PUT
//     never settled and kept its key's lock (8.) forever: every later PUT of
//     that key (sealfs's head) hung. onClientGone calls back also when the
//     stream is already destroyed.
patch('lib/stores/filesystem.js', [
  [
    `const { concatStreams, walk } = require('../utils');
`,
    `const { concatStreams, walk } = require('../utils');

// Calls gone() once if the request body stream ends without being read to
// its end (the client went away), including when that happened already.
function onClientGone(stream, gone) {
  if (stream.destroyed && !stream.readableEnded) {
    process.nextTick(gone);
    return;
  }
  stream.on('close', () => {
    if (!stream.readableEnded) gone();
  });
}
`,
  ],
  [
    `    const [size, md5] = await new Promise((resolve, reject) => {
      const writeStream = fs.createWriteStream(objectPath);
      const md5Context = crypto.createHash('md5');

      if (Buffer.isBuffer(object.content)) {
        writeStream.end(object.content);
        md5Context.update(object.content);
        resolve([object.content.length, md5Context.digest('hex')]);
      } else {`,
    `    const tmpPath = objectPath + '.tmp-' + crypto.randomBytes(8).toString('hex');
    const [size, md5] = await new Promise((resolve, reject) => {
      const writeStream = fs.createWriteStream(tmpPath);
      const md5Context = crypto.createHash('md5');
      let result;
      let failed = null; // settled at the close: the file may still be opening
      writeStream.on('error', reject);
      writeStream.on('close', () => (failed ? reject(failed) : resolve(result)));

      if (Buffer.isBuffer(object.content)) {
        md5Context.update(object.content);
        result = [object.content.length, md5Context.digest('hex')];
        writeStream.end(object.content);
      } else {`,
  ],
  [
    `          .on('error', reject)
          .on('finish', () => resolve([totalLength, md5Context.digest('hex')]))
          .pipe(writeStream);
      }
    });
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };`,
    `          .on('error', reject)
          .on('finish', () => { result = [totalLength, md5Context.digest('hex')]; })
          .pipe(writeStream);
        const fail = err => {
          failed = failed || err;
          writeStream.destroy();
        };
        object.content.on('error', fail);
        onClientGone(object.content, () => fail(new Error('request aborted')));
      }
    }).catch(async err => {
      await fs.remove(tmpPath);
      throw err;
    });
    await fs.rename(tmpPath, objectPath);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };`,
  ],
]);

// 2 and 4. Upload Part waits for the part file; unknown upload ids are 404.
patch('lib/stores/filesystem.js', [
  [
    `  async putPart(bucket, uploadId, partNumber, content) {
    const partPath = path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
      partNumber.toString(),
    );

    await fs.mkdirp(path.dirname(partPath));
`,
    `  async putPart(bucket, uploadId, partNumber, content) {
    const partPath = path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
      partNumber.toString(),
    );

    await this.checkUpload(bucket, uploadId);
`,
  ],
  [
    `        .on('error', reject)
        .on('finish', () => {
          resolve([totalLength, md5Context.digest('hex')]);
        })
        .pipe(writeStream);
    });
    await fs.writeFile(\`\${partPath}.md5\`, md5);`,
    `        .on('error', reject)
        .on('finish', () => {
          result = [totalLength, md5Context.digest('hex')];
        })
        .pipe(writeStream);
      let result;
      let failed = null; // settled at the close: the file may still be opening
      writeStream.on('error', reject);
      writeStream.on('close', () => (failed ? reject(failed) : resolve(result)));
      onClientGone(content, () => {
        failed = failed || new Error('request aborted');
        writeStream.destroy();
      });
    });
    await fs.writeFile(\`\${partPath}.md5\`, md5);`,
  ],
  [
    `  async putObjectMultipart(bucket, uploadId, parts) {
    const uploadDir = path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
    );
`,
    `  async checkUpload(bucket, uploadId) {
    const S3Error = require('../models/error');
    const uploadDir = path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      String(uploadId),
    );
    if (!/^[0-9a-f]{32}$/.test(String(uploadId)) || !(await fs.pathExists(uploadDir))) {
      throw new S3Error(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { UploadId: uploadId },
      );
    }
    return uploadDir;
  }

  async abortUpload(bucket, uploadId) {
    await fs.remove(await this.checkUpload(bucket, uploadId));
  }

  async putObjectMultipart(bucket, uploadId, parts) {
    const uploadDir = await this.checkUpload(bucket, uploadId);
`,
  ],
]);

// 3. Listing: every key under the prefix, sorted, then paged.
patch('lib/stores/filesystem.js', [
  [
    `    const it = walk(bucketPath, dirPath => {
      // avoid directories occurring before the startAfter parameter
      if (dirPath < startAfterPath && startAfterPath.indexOf(dirPath) === -1) {
        return false;
      }
      if (dirPath.startsWith(prefixPath)) {
        if (
          delimiterEnc &&
          dirPath.slice(prefixPath.length).indexOf(delimiterEnc) !== -1
        ) {
          // avoid directories occurring beneath a common prefix
          return false;
        }
      } else if (!prefixPath.startsWith(dirPath)) {`,
    `    void startAfterPath;
    void delimiterEnc;
    const it = walk(bucketPath, dirPath => {
      if (!dirPath.startsWith(prefixPath) && !prefixPath.startsWith(dirPath + '/')) {`,
  ],
  [
    `    for (const keyPath of it) {
      if (!keyPath.endsWith(objectSuffix)) {
        continue;
      }

      const key = FilesystemStore.decodeKeyPath(
        keyPath.slice(bucketPath.length + 1, -objectSuffix.length),
      );
`,
    `    const sorted = [];
    for (const keyPath of it) {
      if (!keyPath.endsWith(objectSuffix) || keyPath.includes('/._S3rver_uploads/')) {
        continue;
      }
      sorted.push(
        FilesystemStore.decodeKeyPath(
          keyPath.slice(bucketPath.length + 1, -objectSuffix.length),
        ),
      );
    }
    sorted.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of sorted) {`,
  ],
]);

// 5. AbortMultipartUpload.
patch('lib/routes.js', [
  [
    `  .delete('/:bucket/:key+', ctx => {
    switch (ctx.params.queryMethod) {
      case undefined:
        return objectCtrl.deleteObject(ctx);`,
    `  .delete('/:bucket/:key+', async ctx => {
    switch (ctx.params.queryMethod) {
      case undefined:
        return objectCtrl.deleteObject(ctx);
      case 'uploadId':
        await ctx.store.abortUpload(ctx.params.bucket, ctx.query.uploadId);
        ctx.status = 204;
        return;`,
  ],
]);

// 7. Continuation tokens were DES-encrypted, which Node 20's OpenSSL 3 no
//    longer offers (every truncated listing failed with 500): keep the token
//    opaque (base64 of random bytes and the position) without a cipher.
patch('lib/controllers/bucket.js', [
  [
    `  const cipher = crypto.createCipheriv('des', key, iv);
  return Buffer.concat([
    iv,
    cipher.update(\`\${region}/\${bucket}/\${keyName}\`, 'utf8'),
    cipher.final(),
  ]).toString('base64');`,
    `  void key;
  return Buffer.concat([
    iv,
    Buffer.from(\`\${region}/\${bucket}/\${keyName}\`, 'utf8'),
  ]).toString('base64');`,
  ],
  [
    `  const decipher = crypto.createDecipheriv('des', key, iv);
  const ciphertext = buf.slice(8);
  return Buffer.concat([
    decipher.update(ciphertext),
    decipher.final(),
  ]).toString('utf8');`,
    `  void key;
  void iv;
  return buf.slice(8).toString('utf8');`,
  ],
]);

// 6. Check V4 signatures (the checker itself is copied above, on every run).
patch('lib/middleware/authentication.js', [
  [
    `    } else if (signature.version === 4) {
      // Signature version 4 calculation is unimplemeneted
      ctx.state.account = account;
    }`,
    `    } else if (signature.version === 4) {
      if (mechanisms.header) {
        const secret = account.accessKeys.get(signature.accessKeyId);
        const v = require('./sigv4-verify')(ctx, secret);
        stringToSign = v.stringToSign;
        if (v.ok) ctx.state.account = account;
      } else {
        ctx.state.account = account; // presigned URLs: unchecked, unused by sealfs
      }
    }`,
  ],
]);

// 8. Conditional PUT Object: every PUT of a key runs after the previous one
//    (a promise chain per key), so the check and the write are one step.
patch('lib/controllers/object.js', [
  [
    `exports.putObject = async function putObject(ctx) {
  const object = new S3Object(
    ctx.params.bucket,
    ctx.params.key,
    ctx.req,
    ctx.headers,
  );
  try {
    const { md5, size } = await ctx.store.putObject(object);`,
    `const putLocks = new Map();
async function underPutLock(id, fn) {
  const before = putLocks.get(id) || Promise.resolve();
  let release;
  const mine = new Promise(resolve => (release = resolve));
  const tail = before.then(() => mine);
  putLocks.set(id, tail);
  await before;
  try {
    return await fn();
  } finally {
    release();
    if (putLocks.get(id) === tail) putLocks.delete(id);
  }
}

async function checkPutConditions(ctx) {
  const ifMatch = ctx.headers['if-match'];
  const ifNoneMatch = ctx.headers['if-none-match'];
  if (process.env.S3RVER_IGNORE_CONDITIONAL === '1' || (!ifMatch && !ifNoneMatch)) return;
  let current = null;
  try {
    current = (await ctx.store.getMetadata(ctx.params.bucket, ctx.params.key)).etag;
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  if (ifNoneMatch !== undefined && (ifNoneMatch.trim() !== '*' || current !== null)) {
    throw new S3Error(
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      { Condition: 'If-None-Match' },
    );
  }
  if (ifMatch !== undefined && current === null) {
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', {
      Key: ctx.params.key,
    });
  }
  if (ifMatch !== undefined && ifMatch.trim() !== current) {
    throw new S3Error(
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      { Condition: 'If-Match' },
    );
  }
}

exports.putObject = async function putObject(ctx) {
  const object = new S3Object(
    ctx.params.bucket,
    ctx.params.key,
    ctx.req,
    ctx.headers,
  );
  try {
    const { md5, size } = await underPutLock(
      ctx.params.bucket + '/' + ctx.params.key,
      async () => {
        await checkPutConditions(ctx);
        return ctx.store.putObject(object);
      },
    );`,
  ],
]);

// 9. ListMultipartUploads.
patch('lib/stores/filesystem.js', [
  [
    `  async initiateUpload(bucket, key, uploadId, metadata) {`,
    `  async listUploads(bucket) {
    const uploadsDir = this.getResourcePath(bucket, undefined, 'uploads');
    let ids = [];
    try {
      ids = await fs.readdir(uploadsDir);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    const uploads = [];
    for (const uploadId of ids) {
      if (!/^[0-9a-f]{32}$/.test(uploadId)) continue;
      const keyPath = path.join(uploadsDir, uploadId, 'key');
      try {
        const [key, st] = await Promise.all([fs.readFile(keyPath, 'utf8'), fs.stat(keyPath)]);
        uploads.push({ key, uploadId, initiated: st.mtime });
      } catch (err) {
        if (err.code !== 'ENOENT') throw err; // completed or aborted meanwhile
      }
    }
    uploads.sort((a, b) =>
      a.key < b.key ? -1 : a.key > b.key ? 1 : a.uploadId < b.uploadId ? -1 : 1,
    );
    return uploads;
  }

  async initiateUpload(bucket, key, uploadId, metadata) {`,
  ],
]);
patch('lib/routes.js', [
  [
    `  .get('/:bucket', bucketCtrl.bucketExists, ctx => {
    switch (ctx.params.queryMethod) {
      case undefined:
        return bucketCtrl.getBucket(ctx);`,
    `  .get('/:bucket', bucketCtrl.bucketExists, ctx => {
    switch (ctx.params.queryMethod) {
      case undefined:
        return bucketCtrl.getBucket(ctx);
      case 'uploads':
        return bucketCtrl.listMultipartUploads(ctx);`,
  ],
]);
patch('lib/controllers/bucket.js', [
  [
    `exports.deleteBucket = async function deleteBucket(ctx) {`,
    `exports.listMultipartUploads = async function listMultipartUploads(ctx) {
  const q = ctx.query;
  const prefix = q.prefix || '';
  const keyMarker = q['key-marker'] || '';
  const idMarker = q['upload-id-marker'] || '';
  const max = q['max-uploads'] ? Number(q['max-uploads']) : 1000;
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new S3Error('InvalidArgument', 'max-uploads must be 1..1000', {
      ArgumentName: 'max-uploads',
      ArgumentValue: q['max-uploads'],
    });
  }
  const all = (await ctx.store.listUploads(ctx.params.bucket)).filter(
    u =>
      u.key.startsWith(prefix) &&
      (!keyMarker ||
        u.key > keyMarker ||
        (idMarker && u.key === keyMarker && u.uploadId > idMarker)),
  );
  const page = all.slice(0, max);
  const truncated = all.length > max;
  const last = page[page.length - 1];
  ctx.body = {
    ListMultipartUploadsResult: {
      '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
      Bucket: ctx.params.bucket,
      KeyMarker: keyMarker,
      UploadIdMarker: idMarker,
      NextKeyMarker: truncated ? last.key : undefined,
      NextUploadIdMarker: truncated ? last.uploadId : undefined,
      Prefix: prefix,
      MaxUploads: max,
      IsTruncated: truncated,
      Upload: page.map(u => ({
        Key: u.key,
        UploadId: u.uploadId,
        Initiator: { ID: DUMMY_ACCOUNT.id, DisplayName: DUMMY_ACCOUNT.displayName },
        Owner: { ID: DUMMY_ACCOUNT.id, DisplayName: DUMMY_ACCOUNT.displayName },
        StorageClass: 'STANDARD',
        Initiated: u.initiated.toISOString(),
      })),
    },
  };
};

exports.deleteBucket = async function deleteBucket(ctx) {`,
  ],
]);

// 11. Entries that go while a listing walks them; a DELETE's clean-up racing
//     another request.
patch('lib/utils.js', [
  [
    `exports.walk = function* walk(dir, recurseFilter) {
  for (const filename of fs.readdirSync(dir)) {
    const filePath = path.posix.join(dir, filename);
    const stats = fs.statSync(filePath);
`,
    `// ENOENT: the entry went after it was listed (a DELETE, a renamed temporary
// file): nothing to list there.
function goneOr(err, value) {
  if (err.code !== 'ENOENT') throw err;
  return value;
}

exports.walk = function* walk(dir, recurseFilter) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    names = goneOr(err, []);
  }
  for (const filename of names) {
    const filePath = path.posix.join(dir, filename);
    let stats;
    try {
      stats = fs.statSync(filePath);
    } catch (err) {
      stats = goneOr(err, null);
    }
    if (!stats) continue;
`,
  ],
]);
patch('lib/stores/filesystem.js', [
  [
    `    while (
      parts.length &&
      !fs.readdirSync(path.join(bucketPath, ...parts)).length
    ) {
      await fs.rmdir(path.join(bucketPath, ...parts));
      parts.pop();
    }`,
    `    const emptied = async dirPath => {
      try {
        if (fs.readdirSync(dirPath).length) return false;
        await fs.rmdir(dirPath);
        return true;
      } catch (err) {
        // gone, or filled by a PUT meanwhile: the clean-up ends there
        if (err.code === 'ENOENT' || err.code === 'ENOTEMPTY') return false;
        throw err;
      }
    };
    while (parts.length && (await emptied(path.join(bucketPath, ...parts)))) {
      parts.pop();
    }`,
  ],
]);

fs.writeFileSync(MARK, 'patched by tests/s3/patch-s3rver.js\n');
