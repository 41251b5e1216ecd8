// Typesets the formulas the server marked (span.math-inline / span.math-display hold the
// escaped TeX) with the vendored KaTeX. trust stays off: \href, \url and friends render as
// errors, never as links. Loaded from the app itself (the CSP allows no inline script).
(function () {
  "use strict";
  if (typeof window.katex === "undefined") { return; }
  var opts = { throwOnError: false, trust: false, strict: "ignore", maxSize: 50, maxExpand: 1000 };
  var nodes = document.querySelectorAll("span.math-inline, span.math-display");
  Array.prototype.forEach.call(nodes, function (el) {
    var tex = el.textContent;
    try {
      window.katex.render(tex, el, Object.assign({ displayMode: el.classList.contains("math-display") }, opts));
      el.setAttribute("data-tex", tex);
    } catch (e) { el.textContent = tex; }
  });
})();
