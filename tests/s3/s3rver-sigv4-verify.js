'use strict';
// s3rver-sigv4-verify.js - installed by patch-s3rver.js into the test copy of
// s3rver 3.7.1 (which accepts any V4 signature from a known access key): an
// independent SigV4 check of header-signed requests, written from the AWS
// documentation, so a wrong secret or a signing bug in the client is refused
// with SignatureDoesNotMatch as S3 would. Test infrastructure only.

const { createHash, createHmac } = require('crypto');

function rfc3986(s) {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    c => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function canonicalQuery(raw) {
  if (!raw) return '';
  return raw
    .split('&')
    .filter(p => p.length)
    .map(p => {
      const i = p.indexOf('=');
      const k = i < 0 ? p : p.slice(0, i);
      const v = i < 0 ? '' : p.slice(i + 1);
      const dec = x => decodeURIComponent(x.replace(/\+/g, '%20'));
      return [rfc3986(dec(k)), rfc3986(dec(v))];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function hmac(key, data) {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// Returns { ok, stringToSign }.
module.exports = function verifySigV4(ctx, secret) {
  const auth = ctx.get('authorization');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (!m) return { ok: false, stringToSign: '(malformed authorization header)' };
  const [, , date, region, service, signedHeaders, signature] = m;
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return { ok: false, stringToSign: '(host and x-amz-date must be signed)' };
  }
  // the URL as sent: s3rver's vhost middleware rewrites req.url for
  // virtual-hosted requests (bucket.s3.REGION.amazonaws.com)
  const rawUrl = ctx.originalUrl || ctx.req.url;
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q + 1);
  const headers = names
    .map(n => `${n}:${String(ctx.req.headers[n] || '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonical = [
    ctx.method,
    path,
    canonicalQuery(query),
    headers,
    signedHeaders,
    ctx.get('x-amz-content-sha256'),
  ].join('\n');
  const amzDate = ctx.get('x-amz-date');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    `${date}/${region}/${service}/aws4_request`,
    createHash('sha256').update(canonical, 'utf8').digest('hex'),
  ].join('\n');
  let key = hmac('AWS4' + secret, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return { ok: expected === signature && amzDate.slice(0, 8) === date, stringToSign };
};
