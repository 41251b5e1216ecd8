// Review page behaviour: keyboard shortcuts, one submit per page, visible time on task, and
// the document pane (search with true match counts; open / closed state, search and position
// kept across the items of one document). Loaded from the app itself (the CSP allows no
// inline script).
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

  // --- the document pane ---------------------------------------------------------------
  var doc = makeDocument();

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

  function makeDocument() {
    var pane = document.getElementById("document");
    var pre = document.getElementById("doc-text");
    var box = document.getElementById("doc-search");
    if (!pane || !pre || !box) { return null; }
    var layout = document.getElementById("review");
    var toggleBtn = document.getElementById("doc-toggle");
    var count = document.getElementById("doc-count");
    var docId = pane.getAttribute("data-doc") || "";
    var STATE = "arena-doc-state";
    var MAX_MARKS = 5000; // beyond this many matches only the current one is highlighted
    var original = pre.textContent;
    var hay = original.toLowerCase();
    var hits = [];   // start offsets of every match (the true count)
    var marks = null; // mark elements when every match is highlighted
    var needleLen = 0;
    var at = -1;

    // What is kept across the items of one document (this tab only).
    var saved = null;
    try { saved = JSON.parse(session.getItem(STATE) || "null"); } catch (e) { saved = null; }
    if (!saved || saved.doc !== docId) { saved = { doc: docId, open: true, q: "", at: 0, top: 0 }; }

    function remember() {
      try {
        session.setItem(STATE, JSON.stringify({ doc: docId, open: isOpen(), q: box.value,
          at: Math.max(at, 0), top: pre.scrollTop }));
      } catch (e) { /* private mode */ }
    }
    function isOpen() { return !layout.classList.contains("doc-closed"); }
    function setOpen(open) {
      layout.classList.toggle("doc-closed", !open);
      toggleBtn.setAttribute("aria-expanded", open ? "true" : "false");
      remember();
    }

    function render() {
      // Rebuild the text with highlights: all matches, or (when there are very many) the
      // current one only, so the page stays fast on a 255 k-character document.
      pre.textContent = "";
      marks = null;
      if (!hits.length) { pre.textContent = original; return; }
      var frag = document.createDocumentFragment();
      var pos = 0;
      var list = hits.length <= MAX_MARKS ? hits : [hits[at]];
      var made = [];
      for (var i = 0; i < list.length; i++) {
        var h = list[i];
        frag.appendChild(document.createTextNode(original.slice(pos, h)));
        var m = document.createElement("mark");
        m.textContent = original.slice(h, h + needleLen);
        frag.appendChild(m);
        made.push(m);
        pos = h + needleLen;
      }
      frag.appendChild(document.createTextNode(original.slice(pos)));
      pre.appendChild(frag);
      if (hits.length <= MAX_MARKS) { marks = made; }
      return made;
    }

    function show(i, scroll) {
      if (!hits.length) { return; }
      at = (i + hits.length) % hits.length;
      var el;
      if (marks) {
        var old = pre.querySelector("mark.current");
        if (old) { old.classList.remove("current"); }
        el = marks[at];
      } else {
        el = render()[0];
      }
      el.classList.add("current");
      if (scroll !== false) { el.scrollIntoView({ block: "center" }); }
      count.textContent = (at + 1) + " / " + hits.length;
      remember();
    }

    function search(keepAt) {
      var q = box.value;
      hits = [];
      at = -1;
      needleLen = q.length;
      if (!q) { render(); count.textContent = ""; remember(); return; }
      var needle = q.toLowerCase();
      var pos = 0, hit;
      while ((hit = hay.indexOf(needle, pos)) !== -1) {
        hits.push(hit);
        pos = hit + needle.length;
      }
      if (!hits.length) { render(); count.textContent = "no match"; remember(); return; }
      at = Math.min(keepAt || 0, hits.length - 1);
      render();
      show(at, keepAt === undefined);
    }

    var timer = null;
    box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(function () { search(); }, 150); });
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); show(ev.shiftKey ? at - 1 : at + 1); }
      if (ev.key === "Escape") { ev.preventDefault(); box.blur(); }
    });
    document.getElementById("doc-next").addEventListener("click", function () { show(at + 1); });
    document.getElementById("doc-prev").addEventListener("click", function () { show(at - 1); });
    toggleBtn.addEventListener("click", function () { setOpen(!isOpen()); });
    var scrollTimer = null;
    pre.addEventListener("scroll", function () { clearTimeout(scrollTimer); scrollTimer = setTimeout(remember, 200); });
    window.addEventListener("pagehide", remember);

    // Restore what the previous item of this document left.
    layout.classList.toggle("doc-closed", !saved.open);
    toggleBtn.setAttribute("aria-expanded", saved.open ? "true" : "false");
    if (saved.q) { box.value = saved.q; search(saved.at); }
    pre.scrollTop = saved.top || 0;
    remember();

    return {
      toggle: function () { setOpen(!isOpen()); },
      focusSearch: function () { if (!isOpen()) { setOpen(true); } box.focus(); box.select(); }
    };
  }
})();
