// kiribi dashboard: select-all boxes, confirmations, and the live refresh of the
// page's [data-live] parts, which keeps what was typed and ticked.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) return;
    var scope = box.form || document;
    scope.querySelectorAll('input[type="checkbox"][name="id"]').forEach(function (each) {
      each.checked = box.checked;
    });
  });

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  var body = document.body;
  if (!body.hasAttribute("data-refresh")) return;
  var toggle = document.getElementById("auto-refresh");
  var key = "kiribi-dashboard-live";
  if (toggle) {
    try { toggle.checked = window.localStorage.getItem(key) !== "off"; } catch (e) { /* storage may be off */ }
    toggle.addEventListener("change", function () {
      try { window.localStorage.setItem(key, toggle.checked ? "on" : "off"); } catch (e) { /* ignore */ }
    });
  }
  // The next refresh waits 2 s, or ten times what the last one took, whichever is
  // longer: a page that is slow to build (a large table) is fetched less often, so
  // that an open dashboard keeps its share of the database under a tenth.
  var delay = 2000;
  var stopped = false;

  function typing(region) {
    var active = document.activeElement;
    return active && region.contains(active) && active.matches("input:not([type=checkbox]), textarea, select");
  }

  function swap(fresh) {
    document.querySelectorAll("[data-live]").forEach(function (region) {
      var next = region.id && fresh.getElementById(region.id);
      if (!next || typing(region)) return;
      var ticked = {};
      region.querySelectorAll('input[type="checkbox"]').forEach(function (box) {
        if (box.checked) ticked[box.name + "=" + box.value] = true;
      });
      region.innerHTML = next.innerHTML;
      region.querySelectorAll('input[type="checkbox"]').forEach(function (box) {
        if (ticked[box.name + "=" + box.value]) box.checked = true;
      });
    });
  }

  function schedule() {
    if (!stopped) window.setTimeout(refresh, delay);
  }

  function refresh() {
    if (document.hidden || (toggle && !toggle.checked)) return schedule();
    var started = Date.now();
    fetch(window.location.href, {
      headers: { "X-Kiribi-Refresh": "1" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      swap(fresh);
      body.setAttribute("data-refreshed", String(Number(body.getAttribute("data-refreshed") || "0") + 1));
      if (!fresh.body.hasAttribute("data-refresh")) {
        // The work shown has finished: nothing more will change by itself.
        stopped = true;
        body.removeAttribute("data-refresh");
      }
    }).catch(function () {
      // A missed refresh is retried on the next tick.
    }).then(function () {
      delay = Math.max(2000, 10 * (Date.now() - started));
      schedule();
    });
  }

  schedule();
})();
