// htmx swaps nothing when the server refuses a request (4xx) or fails (5xx), so without this a
// click would seem to do nothing. Say what happened, in words, above the page's content.
(function () {
  var MESSAGES = {
    400: "The server could not read this request. Reload the page and try again.",
    403: "Not allowed, or the page has expired (signed out, role changed): reload it and try again.",
    404: "Not found: it may have been removed. Reload the page.",
    409: "This changed in the meantime: reload the page to see where it stands now.",
    413: "Too large to send.",
    429: "Too many requests: wait a moment and try again.",
    503: "Rollout Desk cannot reach its database right now: try again in a few seconds.",
  };

  function show(text) {
    var box = document.getElementById("request-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "request-error";
      box.className = "error";
      box.setAttribute("role", "alert");
      (document.querySelector("main") || document.body).prepend(box);
    }
    box.textContent = text; // never the response's markup
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = MESSAGES[status] ||
      (status >= 500
        ? "The server failed to do this; check whether it was saved before you try again."
        : "The request was refused.");
    show(text + " (HTTP " + status + ")");
  });
  document.addEventListener("htmx:sendError", function () {
    show("Could not reach Rollout Desk: check the connection and try again.");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("request-error");
    if (box && event.detail.successful) box.remove();
  });
})();
