// The local inbox list updates itself: the server announces each new message on
// /api/events (Server-Sent Events) and this script fetches the list's rows again.
"use strict";

(function () {
  const rows = document.getElementById("rows");
  if (rows === null || typeof EventSource === "undefined") {
    return;
  }
  const title = document.title;
  let pending = Promise.resolve();

  function refresh(freshId) {
    pending = pending
      .then(() => fetch("/rows", { cache: "no-store" }))
      .then((answer) => (answer.ok ? answer.text() : Promise.reject(answer.status)))
      .then((html) => {
        // The rows are rendered and escaped by the server: one renderer for both paths.
        rows.innerHTML = html;
        const count = rows.querySelectorAll("tr[data-id]").length;
        document.getElementById("count").textContent = String(count);
        document.title = count ? "(" + count + ") " + title : title;
        const fresh = rows.querySelector('tr[data-id="' + CSS.escape(freshId) + '"]');
        if (fresh !== null) {
          fresh.classList.add("fresh");
        }
      })
      .catch(() => undefined);
  }

  const events = new EventSource("/api/events");
  // Whatever arrived between the page's load and this stream's (re)opening.
  events.addEventListener("open", () => refresh(""));
  events.addEventListener("message", (event) => {
    let id = "";
    try {
      id = JSON.parse(event.data).id;
    } catch (error) {
      id = "";
    }
    refresh(id);
  });
})();
