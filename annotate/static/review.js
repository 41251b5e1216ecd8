// Review page behaviour: keyboard shortcuts, one submit per page, visible time on task. The
// document pane is static/document.js. Loaded from the app itself (the CSP allows no inline
// script).
(function () {
  "use strict";
  var form = document.getElementById("verdict-form");
  if (!form) { return; }

  function store(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }
  var session = store("sessionStorage");

  // Time on task: count only while the page is visible, and carry it over a reload of the
  // same item (sessionStorage, this tab only). The server caps it by its own clock.
  var key = "arena-tot-" + (form.getAttribute("data-assignment") || "");
  var spent = 0;
  try { spent = parseInt(session.getItem(key) || "0", 10) || 0; } catch (e) { spent = 0; }
  var shownAt = document.visibilityState === "visible" ? Date.now() : null;
  function elapsed() { return spent + (shownAt !== null ? Date.now() - shownAt : 0); }
  function save() {
    try { session.setItem(key, String(elapsed())); } catch (e) { /* private mode */ }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { shownAt = Date.now(); }
    else if (shownAt !== null) { spent += Date.now() - shownAt; shownAt = null; save(); }
  });
  window.addEventListener("pagehide", save);

  // One submission per page: a double click or key repeat sends nothing more. (The server
  // is idempotent too; this only spares the round trip.)
  var sent = false;
  function guard(ev) {
    if (sent) { ev.preventDefault(); return; }
    sent = true;
    document.getElementById("elapsed_ms").value = String(elapsed());
    try { session.removeItem(key); } catch (e) { /* private mode */ }
    form.classList.add("busy");
  }
  form.addEventListener("submit", guard);

  // The document pane (static/document.js, loaded first), if the item has a document.
  var doc = window.ArenaDocument || null;

  // --- keys ------------------------------------------------------------------------------
  var criteria = Array.prototype.slice.call(form.querySelectorAll("fieldset.criterion"));
  var current = 0;
  function markCurrent() {
    criteria.forEach(function (c, i) { c.classList.toggle("current", i === current); });
  }
  if (criteria.length) { markCurrent(); }

  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && el.type !== "radio");
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(document.activeElement)) { return; }
    var k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (k === "s") {
      var skip = document.getElementById("skip");
      if (skip) { skip.open = true; var sel = skip.querySelector("select"); if (sel) { sel.focus(); } ev.preventDefault(); }
      return;
    }
    if (doc && (k === "d")) { doc.toggle(); ev.preventDefault(); return; }
    if (doc && (k === "/" || k === "f")) { doc.focusSearch(); ev.preventDefault(); return; }
    if (k === "r") {
      var refs = document.getElementById("references");
      if (refs) { refs.open = !refs.open; ev.preventDefault(); }
      return;
    }
    if (criteria.length) {
      if (/^[0-9]$/.test(k)) {
        var n = k === "0" ? 10 : parseInt(k, 10);
        var radio = criteria[current].querySelector('input[value="' + n + '"]');
        if (radio) {
          radio.checked = true;
          current = Math.min(current + 1, criteria.length - 1);
          markCurrent();
          ev.preventDefault();
        }
        return;
      }
      if (k === "Enter") {
        var btn = form.querySelector('button[data-key="Enter"]');
        if (btn) { ev.preventDefault(); btn.click(); }
      }
      return;
    }
    var target = form.querySelector('button[data-key="' + k + '"]');
    if (target) { ev.preventDefault(); target.click(); }
  });
  criteria.forEach(function (c, i) {
    c.addEventListener("change", function () { current = Math.min(i + 1, criteria.length - 1); markCurrent(); });
  });

})();
