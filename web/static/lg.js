// lg.js drives the landing page: it sends the collector's report to
// /verify, shows Continue or the code form as the server asks, and follows
// the redirect once the link is consumed. A file, not inline: the CSP
// allows inline only the fast page's report (web/inline/fast.js), by hash.
(function () {
  "use strict";
  var body = document.body;
  var nonce = document.querySelector('meta[name="lg-nonce"]').content;
  // The link's address, also from a page that answers a post to one of
  // its routes (the code form's, /l/{token}/confirm).
  var base = location.pathname.replace(/\/+$/, "").replace(/\/(verify|confirm)$/, "");

  function setState(s) { body.setAttribute("data-lg-state", s); }

  // msg is one of the page's words in its language (#lg-strings, written
  // by the server), "{when}" filled in; "" when the page has none.
  var strings = {};
  try { strings = JSON.parse(document.getElementById("lg-strings").textContent) || {}; } catch (e) { /* none */ }
  function msg(key, when) { return (strings[key] || "").replace("{when}", when || ""); }

  function report(stage) {
    if (window.lgCollector && typeof window.lgCollector.report === "function") {
      try { return JSON.parse(window.lgCollector.report(stage)); } catch (e) { /* fall through */ }
    }
    return {};
  }

  function post(path, payload) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(payload)
    }).then(answer);
  }

  // answer reads a report's response: its JSON, or the error it throws.
  function answer(r) {
    if (r.status === 400 || r.status === 429) { return r.json().then(function (e) { throw e; }); }
    if (!r.ok) { throw new Error("status " + r.status); }
    return r.json();
  }

  // when says a server time in the reader's own words and time zone.
  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString(document.documentElement.lang || undefined, { dateStyle: "long", timeStyle: "short" });
  }

  // busy disables a button while its request is under way, so a double
  // click sends one request.
  function busy(el, p) {
    if (el) { el.disabled = true; }
    return p.then(function (v) { if (el) { el.disabled = false; } return v; },
      function (e) { if (el) { el.disabled = false; } throw e; });
  }

  function handle(res) {
    switch (res.outcome) {
      case "consumed":
        setState("done");
        location.replace(res.redirect_url);
        break;
      case "confirm": setState("confirm"); document.getElementById("lg-continue").focus(); break;
      case "code": showCode(); break;
      case "used":
        if (res.used_at && msg("used_at")) { document.getElementById("lg-used-at").textContent = msg("used_at", when(res.used_at)) + " "; }
        setState("used");
        break;
      case "expired":
        if (res.expires_at && msg("expired_at")) { document.getElementById("lg-expired-at").textContent = msg("expired_at", when(res.expires_at)) + " "; }
        setState("expired");
        break;
      default: setState("error");
    }
  }

  function fail(err) {
    if (err && err.error && err.error.code === "invalid_nonce") { location.reload(); return; }
    if (err && err.error && err.error.code === "too_many_attempts") { setState("locked"); return; }
    if (err && err.error && err.error.code === "invalid_code") {
      showCode();
      var left = err.error.attempts_left, code = document.getElementById("lg-code").value.trim();
      var text = /^[0-9]{6}$/.test(code) ? msg("wrong_" + left) : msg("format");
      document.getElementById("lg-code-error").textContent = text || err.error.message;
      return;
    }
    setState("error");
  }

  // A key held down, as far as the page saw. Enter activates Continue
  // on its keydown: the confirm waits for the key's release (at most a
  // second), so that the report's key clock (interaction.keys) holds the
  // whole press, keyup included (docs/collector.md).
  var keyHeld = false;
  addEventListener("keydown", function (ev) { if (ev.isTrusted) { keyHeld = true; } }, true);
  addEventListener("keyup", function () { keyHeld = false; }, true);
  function released(then) {
    if (!keyHeld) { then(); return; }
    var done = false;
    function go() { if (!done) { done = true; removeEventListener("keyup", go, true); then(); } }
    addEventListener("keyup", go, true);
    setTimeout(go, 1000);
  }

  var cont = document.getElementById("lg-continue"), confirming = false;
  cont.addEventListener("click", function (ev) {
    if (confirming) { return; }
    confirming = true;
    released(function () {
      busy(cont, post("/confirm", { nonce: nonce, signals: report("confirm") })).then(handle, fail)
        .then(function () { confirming = false; });
    });
  });
  // The code form lives in a <template> (and in <noscript> for browsers
  // without JavaScript), so that #lg-code exists once in the live page.
  function showCode() {
    if (!document.getElementById("lg-code")) {
      var tpl = document.getElementById("lg-code-template");
      document.getElementById("lg-code-slot").appendChild(tpl.content.cloneNode(true));
      document.getElementById("lg-code-form").addEventListener("submit", function (ev) {
        ev.preventDefault();
        var code = document.getElementById("lg-code").value.trim();
        document.getElementById("lg-code-error").textContent = "";
        busy(document.getElementById("lg-code-submit"),
          post("/confirm", { nonce: nonce, code: code, signals: report("confirm") })).then(handle, fail);
      });
    }
    setState("code");
    document.getElementById("lg-code").focus();
  }

  var started = false;
  function start() {
    if (started || body.getAttribute("data-lg-state") !== "checking") { return; }
    started = true;
    post("/verify", { nonce: nonce, signals: report("verify") }).then(handle, fail);
  }

  // loadCollector instantiates the WebAssembly collector and calls then
  // once it is ready (or failed to load: the report goes without it).
  // The fast page does not load wasm_exec.js (window.Go): it names it in
  // data-lg-wasm-exec, and it is fetched here first.
  var loading = false;
  function loadCollector(then) {
    var wasmURL = body.getAttribute("data-lg-wasm"), execURL = body.getAttribute("data-lg-wasm-exec");
    if (loading || !wasmURL || !window.WebAssembly || !WebAssembly.instantiateStreaming) { then(); return; }
    if (!window.Go && execURL) {
      var s = document.createElement("script");
      s.src = execURL;
      s.onload = function () { body.removeAttribute("data-lg-wasm-exec"); loadCollector(then); };
      s.onerror = function () { then(); };
      document.head.appendChild(s);
      return;
    }
    if (!window.Go) { then(); return; }
    loading = true;
    var go = new window.Go();
    WebAssembly.instantiateStreaming(fetch(wasmURL), go.importObject).then(function (r) {
      go.run(r.instance);
      (window.lgCollector && window.lgCollector.ready ? window.lgCollector.ready : Promise.resolve()).then(then);
    }, then);
  }

  if (body.getAttribute("data-lg-fast") === "1") {
    // The browser that asked for the link (the server saw its device
    // cookie) needs no signals. The page's inline script
    // (web/inline/fast.js) has posted its report as a form
    // (window.lgFast is "form"), and the browser leaves with the answer.
    // If the inline script did not run, or the page is still here long
    // after (the form could not be sent), report from here: at once,
    // without compiling the collector, and load it only if the server
    // asks for more.
    started = true;
    var fast = function () {
      post("/verify", { nonce: nonce, signals: {} }).then(function (res) {
        if (res.outcome !== "consumed") { loadCollector(function () {}); }
        handle(res);
      }, fail);
    };
    if (window.lgFast === "form") { setTimeout(fast, 8000); } else { fast(); }
  } else {
    // The collector normally answers within half a second; if it cannot
    // load at all, report without it (the server then asks for the code).
    setTimeout(start, 8000);
    loadCollector(start);
  }
})();
