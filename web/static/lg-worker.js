// lg-worker.js runs as a dedicated Web Worker started by the collector
// (wasm/main.go, probeWorker) and answers once with navigator as a worker
// sees it. A page script that patches the page's navigator (a disguised
// headless browser) rarely reaches into workers, so a difference is
// telling. It is a file of our own origin because the page's CSP allows
// no other worker source.
(function () {
  "use strict";
  var n = self.navigator || {};
  self.postMessage({
    ua: n.userAgent,
    platform: n.platform,
    languages: n.languages ? Array.prototype.slice.call(n.languages) : [],
    hc: n.hardwareConcurrency
  });
})();
