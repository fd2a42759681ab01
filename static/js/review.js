// Keyboard-first reviewing. One listener on the document, so it keeps working after htmx
// swaps in the next pair. Keys never fire while typing in the comment box.
(function () {
  "use strict";
  function panel() { return document.getElementById("review-panel"); }
  function showVerdictError(form) {
    var error = form.querySelector("[data-verdict-error]");
    if (!error) return;
    error.hidden = false;
    var first = form.querySelector('input[name="choice"]');
    if (first) first.closest("fieldset").classList.add("invalid");
  }
  function clearVerdictError(form) {
    var error = form && form.querySelector("[data-verdict-error]");
    if (error) error.hidden = true;
    var set = form && form.querySelector("fieldset.verdicts");
    if (set) set.classList.remove("invalid");
  }
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
      // A focused button or link does its own thing (Skip, Undo, a link to the pair).
      if (event.target && event.target.closest && event.target.closest("button, a, select")) return;
      var form = root.querySelector("#label-form");
      if (!form) return;
      event.preventDefault();
      // Without a verdict the browser's own "required" bubble is easy to miss (and absent in
      // some browsers for radio groups): say it in the form, where the eyes are.
      if (!form.querySelector('input[name="choice"]:checked')) { showVerdictError(form); return; }
      form.requestSubmit();
      return;
    }
    var control = root.querySelector('[data-key="' + event.key.toLowerCase() + '"]');
    if (!control) return;
    event.preventDefault();
    if (control.type === "radio") { control.checked = true; clearVerdictError(control.form); }
    else if (control.type === "checkbox") control.checked = !control.checked;
    else control.click();
  });
  // A click on Save without a verdict gets the same message as Enter.
  document.addEventListener("invalid", function (event) {
    if (event.target.name === "choice" && event.target.form && event.target.form.id === "label-form") {
      showVerdictError(event.target.form);
    }
  }, true);
  document.addEventListener("change", function (event) {
    if (event.target.name === "choice") clearVerdictError(event.target.form);
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
