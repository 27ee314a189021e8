// Live queue: the server sends a fingerprint of the queue whenever it changes
// (server-sent events); when it differs from what the page shows, fetch the
// table body again. Without JavaScript the page still works: reload it.
(function () {
  "use strict";
  const table = document.getElementById("queue");
  if (!table || !window.EventSource) {
    return;
  }
  const body = table.tBodies[0];
  const live = document.querySelector("[data-testid=live]");
  let shown = table.dataset.fingerprint;

  async function refresh(fingerprint) {
    const response = await fetch(table.dataset.rows, { credentials: "same-origin" });
    if (response.ok) {
      body.innerHTML = await response.text();
      shown = fingerprint;
      table.dataset.fingerprint = fingerprint;
    }
  }

  const source = new EventSource(table.dataset.events);
  source.addEventListener("open", function () { if (live) { live.hidden = false; } });
  source.addEventListener("error", function () { if (live) { live.hidden = true; } });
  source.addEventListener("queue", function (event) {
    if (event.data !== shown) {
      refresh(event.data);
    }
  });
})();
