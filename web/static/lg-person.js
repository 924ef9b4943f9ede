// lg-person.js: what the person's pages do beside the landing page's
// script (lg.js). It announces each change of <body data-lg-state> to
// screen readers, and on the waiting page ("check your inbox") it polls
// the link's status so that the page says, without a reload, when the
// link was used on another device. The status route answers only this
// browser and never carries a session or a code. No inline script: the
// CSP forbids it.
(function () {
  "use strict";
  var body = document.body;
  var live = document.getElementById("lg-live");

  // announce puts the heading of the state now shown into the live
  // region, and moves the focus there for keyboard users.
  function announce() {
    var st = body.getAttribute("data-lg-state");
    var sec = st && document.querySelector(".lg-state.lg-" + st);
    var h = sec && sec.querySelector("h1");
    if (live && h) { live.textContent = h.textContent; }
    if (h) { h.setAttribute("tabindex", "-1"); var a = document.activeElement; if (!a || a === body || a.offsetParent === null) { h.focus(); } }
  }
  if (window.MutationObserver) {
    new MutationObserver(announce).observe(body, { attributes: true, attributeFilter: ["data-lg-state"] });
  }

  var status = body.getAttribute("data-lg-status");
  if (!status || !window.fetch) { return; }
  var final = { elsewhere: true, expired: true, locked: true };
  var started = Date.now();
  var delay = 2000;
  var timer = 0;

  function schedule() {
    // Poll every 2 s for two minutes, then less and less often (15 s at
    // most): a tab left open costs little.
    if (Date.now() - started > 120000) { delay = Math.min(delay * 1.5, 15000); }
    clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function poll() {
    fetch(status, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : (r.status === 404 ? { page_state: "expired" } : null); })
      .then(function (s) {
        var st = s && s.page_state;
        if (st && st !== body.getAttribute("data-lg-state")) { body.setAttribute("data-lg-state", st); }
        if (!final[st]) { schedule(); }
      }, schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !final[body.getAttribute("data-lg-state")]) { poll(); }
  });
  if (!final[body.getAttribute("data-lg-state")]) { schedule(); }
})();
