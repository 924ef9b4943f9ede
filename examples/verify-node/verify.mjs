#!/usr/bin/env node
// verify.mjs: check a linkguard assertion (lg_assertion) with nothing but
// Node's built-in crypto, to show there is no magic in the format and to
// test our tokens against an independent Ed25519 implementation.
//
//   node verify.mjs JWKS_FILE_OR_URL ISSUER AUDIENCE [NOW_UNIX_SECONDS] < token
//
// Prints the claims as JSON and exits 0 when the token is valid; prints
// the reason on stderr and exits 1 when it is not. In production prefer a
// maintained library (the `jose` package, see docs/integration.md); this
// script is a reference, written to be read. Node 18 or later.
import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const MAX_TOKEN = 8192;
const LEEWAY = 30; // seconds of clock skew tolerated

function fail(msg) {
  process.stderr.write(`invalid assertion: ${msg}\n`);
  process.exit(1);
}

function b64urlDecode(seg, what) {
  if (!/^[A-Za-z0-9_-]*$/.test(seg)) fail(`${what} is not base64url`);
  const buf = Buffer.from(seg, "base64url");
  // Refuse non-canonical encodings (stray trailing bits).
  if (buf.toString("base64url") !== seg) fail(`${what} is not canonical base64url`);
  return buf;
}

function parseObject(buf, what) {
  let v;
  try {
    v = JSON.parse(buf.toString("utf8"));
  } catch {
    fail(`${what} is not JSON`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(`${what} is not a JSON object`);
  return v;
}

async function loadJWKS(src) {
  const text = /^https?:\/\//.test(src)
    ? await (await fetch(src)).text()
    : readFileSync(src, "utf8");
  return JSON.parse(text).keys.filter((k) => k.kty === "OKP" && k.crv === "Ed25519");
}

export async function verifyAssertion(token, jwks, issuer, audience, now) {
  token = token.trim();
  if (token.length > MAX_TOKEN) fail("token too large");
  const parts = token.split(".");
  if (parts.length !== 3) fail(`${parts.length - 1} dots, want 2`);
  const [h, p, s] = parts;

  const header = parseObject(b64urlDecode(h, "header"), "header");
  if (header.alg !== "EdDSA") fail(`alg ${JSON.stringify(header.alg)}, want "EdDSA"`);
  if ("crit" in header) fail("crit header not supported");
  const jwk = jwks.find((k) => k.kid === header.kid);
  if (!jwk) fail(`unknown kid ${JSON.stringify(header.kid)}`);

  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
  const sig = b64urlDecode(s, "signature");
  if (sig.length !== 64) fail("signature is not 64 bytes");
  // Ed25519 takes no digest: the algorithm argument is null.
  if (!verify(null, Buffer.from(`${h}.${p}`, "ascii"), key, sig)) fail("bad signature");

  const c = parseObject(b64urlDecode(p, "payload"), "payload");
  if (c.iss !== issuer) fail(`iss ${JSON.stringify(c.iss)}, want ${JSON.stringify(issuer)}`);
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (!aud.includes(audience)) fail(`aud ${JSON.stringify(c.aud)}, want ${JSON.stringify(audience)}`);
  if (typeof c.exp !== "number" || now >= c.exp + LEEWAY) fail("expired");
  if (typeof c.nbf === "number" && now + LEEWAY < c.nbf) fail("not yet valid");
  if (typeof c.iat !== "number" || now + LEEWAY < c.iat) fail("issued in the future");
  if (typeof c.jti !== "string" || c.jti === "") fail("no jti");
  if (typeof c.email !== "string" || c.email === "") fail("no email");
  // Next, in a real host: refuse c.jti if seen before (keep it until c.exp).
  return c;
}

async function main() {
  const [jwksSrc, issuer, audience, nowArg] = process.argv.slice(2);
  if (!jwksSrc || !issuer || !audience) {
    process.stderr.write("usage: node verify.mjs JWKS_FILE_OR_URL ISSUER AUDIENCE [NOW_UNIX_SECONDS] < token\n");
    process.exit(2);
  }
  const now = nowArg ? Number(nowArg) : Math.floor(Date.now() / 1000);
  const token = readFileSync(0, "utf8");
  const claims = await verifyAssertion(token, await loadJWKS(jwksSrc), issuer, audience, now);
  process.stdout.write(JSON.stringify(claims) + "\n");
}

// Run only as a script, not when imported for verifyAssertion.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
