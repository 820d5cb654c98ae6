// The checkout page's progressive enhancement: live status (Server-Sent
// Events, with polling when they are unavailable), copy buttons, the
// countdown and the dev panel. The page works without it, minus these.
(function () {
  "use strict";
  var main = document.getElementById("checkout");
  if (!main || !main.dataset.events) return;
  var version = Number(main.dataset.version);
  var final = main.dataset.final === "true";
  var source = null;
  var pollTimer = 0;

  function reveal() {
    document.querySelectorAll("[data-js][hidden]").forEach(function (el) { el.hidden = false; });
  }

  function apply(d) {
    if (d.version <= version) return;
    version = d.version;
    document.getElementById("state").innerHTML = d.html;
    reveal();
    tick();
    if (d.final) stop();
  }

  function stop() {
    final = true;
    if (source) source.close();
    clearTimeout(pollTimer);
  }

  function poll() {
    if (final) return;
    fetch(main.dataset.status, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) apply(d); })
      .catch(function () {})
      .finally(function () { if (!final) pollTimer = setTimeout(poll, 5000); });
  }

  function listen() {
    if (final) return;
    if (!window.EventSource) { poll(); return; }
    source = new EventSource(main.dataset.events);
    source.addEventListener("state", function (e) { apply(JSON.parse(e.data)); });
    source.onerror = function () {
      // Refused (429/503) or closed for good: fall back to polling.
      if (source.readyState === EventSource.CLOSED && !final) poll();
    };
  }

  var toast = document.querySelector(".copied");
  var toastTimer = 0;
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b || !navigator.clipboard) return;
    navigator.clipboard.writeText(b.dataset.copy).then(function () {
      toast.textContent = main.dataset.copied;
      toast.hidden = false;
      clearTimeout(toastTimer);
      toastTimer = setTimeout(function () { toast.hidden = true; }, 2000);
    });
  });

  // The countdown shows only in the last quarter of the invoice's life.
  function tick() {
    var el = document.querySelector(".countdown[data-expires]");
    if (!el) return;
    var now = Date.now();
    var end = Date.parse(el.dataset.expires);
    if (now < Date.parse(el.dataset.from) || now >= end) { el.hidden = true; return; }
    var s = Math.floor((end - now) / 1000);
    var mmss = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    el.textContent = el.dataset.label.replace("%s", mmss);
    el.hidden = false;
  }

  var dev = document.querySelector(".dev");
  if (dev) {
    dev.addEventListener("click", function (e) {
      var b = e.target.closest("[data-dev]");
      if (!b) return;
      var d = dev.dataset, req;
      switch (b.dataset.dev) {
        case "pay-full": req = ["/dev/pay", { currency: d.currency, address: d.address, amount: d.amount }]; break;
        case "pay-half": req = ["/dev/pay", { currency: d.currency, address: d.address, amount: d.half }]; break;
        case "mine": req = ["/dev/mine", { currency: d.currency }]; break;
        case "expire": req = ["/dev/expire", { invoice_id: d.id }]; break;
      }
      b.disabled = true;
      fetch(req[0], { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req[1]) })
        .finally(function () { b.disabled = false; });
    });
  }

  reveal();
  tick();
  setInterval(tick, 1000);
  listen();
})();
