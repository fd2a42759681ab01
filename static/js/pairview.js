// The rendered / diff / raw toggle of a pair's outputs (templates/comparisons/_pair.html).
// Without JavaScript the links reload the page with ?view=; with it the view switches in place
// (all three are in the page) and the choice is remembered for the next pairs, including the
// ones htmx swaps in. An explicit ?view= in the address wins over the remembered choice.
(function () {
  "use strict";
  var KEY = "rolloutdesk.pairView";
  function show(root, view) {
    if (!root.querySelector('.view-toggle a[data-view="' + view + '"]')) return;  // e.g. no diff
    root.dataset.view = view;
    root.querySelectorAll(".view-toggle a[data-view]").forEach(function (link) {
      if (link.dataset.view === view) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }
  function remembered() {
    if (new URLSearchParams(window.location.search).has("view")) return;
    var view = null;
    try { view = window.localStorage.getItem(KEY); } catch (e) { return; }
    if (!view) return;
    document.querySelectorAll(".pair-outputs").forEach(function (root) { show(root, view); });
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".view-toggle a[data-view]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    show(link.closest(".pair-outputs"), link.dataset.view);
    try { window.localStorage.setItem(KEY, link.dataset.view); } catch (e) { /* private mode */ }
  });
  document.addEventListener("DOMContentLoaded", remembered);
  document.addEventListener("htmx:afterSwap", remembered);
})();
