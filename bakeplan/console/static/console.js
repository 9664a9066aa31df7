// Refresh the runs table's body every few seconds from /runs/rows (same filters): the only script.
(function () {
  const body = document.getElementById("run-rows");
  if (!body) return;
  const every = Number(body.dataset.everyMs) || 3000;
  async function refresh() {
    try {
      const response = await fetch(body.dataset.src, { credentials: "same-origin" });
      if (response.ok && !response.redirected) body.innerHTML = await response.text();
    } catch (e) { /* the next tick tries again */ }
    setTimeout(refresh, every);
  }
  setTimeout(refresh, every);
})();
