// Review page behaviour: keyboard shortcuts, one submit per page, visible time on task,
// search inside the document. Loaded from the app itself (the CSP allows no inline script).
(function () {
  "use strict";
  var form = document.getElementById("verdict-form");
  if (!form) { return; }

  // Time on task: count only while the page is visible, and carry it over a reload of the
  // same item (sessionStorage, this tab only). The server caps it by its own clock.
  var key = "arena-tot-" + (form.getAttribute("data-assignment") || "");
  var spent = 0;
  try { spent = parseInt(window.sessionStorage.getItem(key) || "0", 10) || 0; } catch (e) { spent = 0; }
  var shownAt = document.visibilityState === "visible" ? Date.now() : null;
  function elapsed() { return spent + (shownAt !== null ? Date.now() - shownAt : 0); }
  function save() {
    try { window.sessionStorage.setItem(key, String(elapsed())); } catch (e) { /* private mode */ }
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
    try { window.sessionStorage.removeItem(key); } catch (e) { /* private mode */ }
    form.classList.add("busy");
  }
  form.addEventListener("submit", guard);

  // Rubric: digits score the current criterion and move to the next one.
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
    var key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (key === "s") {
      var skip = document.getElementById("skip");
      if (skip) { skip.open = true; var sel = skip.querySelector("select"); if (sel) { sel.focus(); } ev.preventDefault(); }
      return;
    }
    if (criteria.length) {
      if (/^[0-9]$/.test(key)) {
        var n = key === "0" ? 10 : parseInt(key, 10);
        var radio = criteria[current].querySelector('input[value="' + n + '"]');
        if (radio) {
          radio.checked = true;
          current = Math.min(current + 1, criteria.length - 1);
          markCurrent();
          ev.preventDefault();
        }
        return;
      }
      if (key === "Enter") {
        var btn = form.querySelector('button[data-key="Enter"]');
        if (btn) { ev.preventDefault(); btn.click(); }
      }
      return;
    }
    var target = form.querySelector('button[data-key="' + key + '"]');
    if (target) { ev.preventDefault(); target.click(); }
  });
  criteria.forEach(function (c, i) {
    c.addEventListener("change", function () { current = Math.min(i + 1, criteria.length - 1); markCurrent(); });
  });

  // Search inside the document: highlight matches, step through them.
  var pre = document.getElementById("doc-text");
  var box = document.getElementById("doc-search");
  if (pre && box) {
    var original = pre.textContent;
    var marks = [];
    var at = -1;
    var count = document.getElementById("doc-count");
    function show(i) {
      if (!marks.length) { return; }
      if (at >= 0) { marks[at].classList.remove("current"); }
      at = (i + marks.length) % marks.length;
      marks[at].classList.add("current");
      marks[at].scrollIntoView({ block: "center" });
      count.textContent = (at + 1) + " / " + marks.length;
    }
    function search() {
      var q = box.value;
      pre.textContent = "";
      marks = [];
      at = -1;
      if (!q) { pre.textContent = original; count.textContent = ""; return; }
      var hay = original.toLowerCase(), needle = q.toLowerCase(), pos = 0, hit;
      var frag = document.createDocumentFragment();
      while ((hit = hay.indexOf(needle, pos)) !== -1 && marks.length < 5000) {
        frag.appendChild(document.createTextNode(original.slice(pos, hit)));
        var m = document.createElement("mark");
        m.textContent = original.slice(hit, hit + q.length);
        frag.appendChild(m);
        marks.push(m);
        pos = hit + q.length;
      }
      frag.appendChild(document.createTextNode(original.slice(pos)));
      pre.appendChild(frag);
      count.textContent = marks.length ? "1 / " + marks.length : "no match";
      if (marks.length) { show(0); }
    }
    var timer = null;
    box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 150); });
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); show(ev.shiftKey ? at - 1 : at + 1); }
    });
    document.getElementById("doc-next").addEventListener("click", function () { show(at + 1); });
    document.getElementById("doc-prev").addEventListener("click", function () { show(at - 1); });
  }
})();
