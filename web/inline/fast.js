// fast.js, inline in the head of the page of the browser that asked
// (landing.html, .Fast): its report, before any file; lg.js shows the rest.
(function () {
  "use strict";
  var m = document.querySelector('meta[name="lg-nonce"]');
  if (!m || !window.fetch) { return; }
  window.lgFast = fetch(location.pathname.replace(/\/+$/, "") + "/verify", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ nonce: m.content, signals: {} })
  }).then(function (r) {
    var read = r.json();
    return read.then(function (res) {
      if (r.ok && res && res.outcome === "consumed" && res.redirect_url) { location.replace(res.redirect_url); }
    }, function () {}).then(function () {
      return { status: r.status, ok: r.ok, json: function () { return read; } };
    });
  });
})();
