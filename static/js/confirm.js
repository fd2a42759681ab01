// Ask before a form with data-confirm is sent (an inline onsubmit would need 'unsafe-inline'
// under the Content-Security-Policy).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);
})();
