// "now" buttons beside datetime-local inputs: fill the input with the current UTC time, since
// the pages read an instant without an offset as UTC (an inline handler would need
// 'unsafe-inline' under the Content-Security-Policy).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-fill-now]") : null;
    if (!button) return;
    var form = button.form || button.closest("form");
    var input = form && form.querySelector("[data-now-target]");
    if (!input) return;
    input.value = new Date().toISOString().slice(0, 19);
  });
})();
