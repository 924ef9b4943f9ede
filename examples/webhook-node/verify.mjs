// Verifies a Standard Webhooks delivery from linkguard with nothing but
// Node's built-in crypto: the function a host's receiver uses.
//
// As a program (the Go tests run it): reads {"secret", "headers", "body",
// "now"} as JSON on stdin and prints "ok" or "bad: <why>".
import { createHmac, timingSafeEqual } from "node:crypto";

export function verify(secret, headers, rawBody, nowSec = Date.now() / 1000, toleranceSec = 300) {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"], sigs = headers["webhook-signature"];
  if (!id || !ts || !sigs) return "missing headers";
  if (!/^\d+$/.test(ts) || Math.abs(nowSec - Number(ts)) > toleranceSec) return "timestamp out of tolerance";
  if (!secret.startsWith("whsec_")) return "the secret must start with whsec_";
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const want = Buffer.from("v1," + createHmac("sha256", key).update(`${id}.${ts}.${rawBody}`).digest("base64"));
  const ok = sigs.split(" ").some((s) => {
    const got = Buffer.from(s);
    return got.length === want.length && timingSafeEqual(got, want);
  });
  return ok ? "" : "no signature matches";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let input = "";
  process.stdin.on("data", (d) => (input += d));
  process.stdin.on("end", () => {
    const m = JSON.parse(input);
    const why = verify(m.secret, m.headers, m.body, m.now);
    console.log(why ? "bad: " + why : "ok");
  });
}
