// fast.js, inline in the head of the page of the browser that asked
// (landing.html, .Fast): its report, before any file, as a form's post, so
// that the browser follows the consumed answer (a 303 to the redirect)
// without waiting for this page's renderer; any other answer is a 303 back
// to the page with the collector (server/landing.go, verifyForm).
(function () {
  "use strict";
  var m = document.querySelector('meta[name="lg-nonce"]');
  var f = document.createElement("form");
  if (!m || typeof f.submit !== "function") { return; }
  f.method = "post";
  // The link's address, also from a page that answers a post to one of
  // its routes (the code form's, /l/{token}/confirm).
  f.action = location.pathname.replace(/\/+$/, "").replace(/\/(verify|confirm)$/, "") + "/verify";
  var n = document.createElement("input");
  n.type = "hidden";
  n.name = "nonce";
  n.value = m.content;
  f.appendChild(n);
  document.documentElement.appendChild(f);
  window.lgFast = "form";
  f.submit();
})();
