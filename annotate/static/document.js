// The document pane of the review and adjudication pages: search with true match counts,
// open / closed, and its state (open, search, current match, scroll position) kept across
// the pages of one document in this tab (sessionStorage). Exposes window.ArenaDocument
// ({toggle, focusSearch}) for the pages' keyboard shortcuts; keys inside the search box:
// Enter / Shift+Enter next / previous match, Escape leaves the box.
(function () {
  "use strict";
  var session = null;
  try { session = window.sessionStorage; } catch (e) { session = null; }

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

  window.ArenaDocument = makeDocument();
})();
