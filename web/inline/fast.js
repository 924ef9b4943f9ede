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
    if (r.ok) {
      r.clone().json().then(function (res) {
        if (res && res.outcome === "consumed" && res.redirect_url) { location.replace(res.redirect_url); }
      }, function () {});
    }
    return r;
  });
})();
