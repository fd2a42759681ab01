// Keyboard-first reviewing. One listener on the document, so it keeps working after htmx
// swaps in the next pair. Keys never fire while typing in the comment box.
(function () {
  "use strict";
  function panel() { return document.getElementById("review-panel"); }
  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"));
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var help = document.getElementById("keys-help");
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") { event.preventDefault(); if (help.open) help.close(); else help.showModal(); return; }
    var root = panel();
    if (!root) return;
    if (event.key === "Enter") {
      var form = root.querySelector("#label-form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    var control = root.querySelector('[data-key="' + event.key.toLowerCase() + '"]');
    if (!control) return;
    event.preventDefault();
    if (control.type === "radio") control.checked = true;
    else if (control.type === "checkbox") control.checked = !control.checked;
    else control.click();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help]")) document.getElementById("keys-help").showModal();
  });
  // Long outputs scroll together, so the same passage stays side by side.
  document.addEventListener("scroll", function (event) {
    var source = event.target;
    if (!source.classList || !source.classList.contains("sync-scroll") || source.dataset.syncing) return;
    document.querySelectorAll(".sync-scroll").forEach(function (other) {
      if (other === source) return;
      other.dataset.syncing = "1";
      other.scrollTop = source.scrollTop;
      requestAnimationFrame(function () { delete other.dataset.syncing; });
    });
  }, true);
})();
