// pva approvals: the inbox refreshes its rows by itself. Hand-written, no dependencies.
// The rows come from this sidecar (server-rendered and escaped), never from user input here.
"use strict";
(function () {
  const table = document.getElementById("inbox");
  if (!table) return;
  const body = document.getElementById("inbox-rows");
  const status = document.getElementById("inbox-status");
  const url = table.dataset.poll;
  const every = Math.max(2, Number(table.dataset.seconds) || 5) * 1000;
  const ids = () => new Set(Array.from(body.querySelectorAll("tr[data-plan]"), (row) => row.dataset.plan));

  async function refresh() {
    if (document.hidden) return;
    let response;
    try {
      response = await fetch(url, { headers: { "X-PVA-Fragment": "1" }, credentials: "same-origin", cache: "no-store" });
    } catch (_) {
      status.textContent = "The sidecar did not answer; retrying.";
      return;
    }
    if (response.status === 401) { window.location.reload(); return; }
    if (!response.ok) return;
    const before = ids();
    const parsed = new DOMParser().parseFromString("<table><tbody>" + (await response.text()) + "</tbody></table>", "text/html");
    const rows = parsed.querySelector("tbody");
    const after = new Set(Array.from(rows.querySelectorAll("tr[data-plan]"), (row) => row.dataset.plan));
    const arrived = Array.from(after).filter((id) => !before.has(id)).length;
    const left = Array.from(before).filter((id) => !after.has(id)).length;
    if (!arrived && !left) return;
    if (body.contains(document.activeElement)) return; // never pull a row from under the keyboard focus
    const ticked = new Set(Array.from(body.querySelectorAll('input[name="plan"]:checked'), (box) => box.value));
    body.replaceChildren(...Array.from(rows.children).map((row) => document.importNode(row, true)));
    body.querySelectorAll('input[name="plan"]').forEach((box) => { box.checked = ticked.has(box.value); });
    const words = [];
    if (arrived) words.push(arrived + (arrived === 1 ? " new plan" : " new plans"));
    if (left) words.push(left + (left === 1 ? " plan was decided" : " plans were decided"));
    status.textContent = words.join("; ") + ".";
  }
  window.setInterval(refresh, every);
})();

// -- the plan page's partial approval (issue 12): the Approve button says how many ops it approves ------
(function () {
  const form = document.getElementById("decision-form");
  const button = form && form.querySelector("button.approve");
  if (!button) return;
  const boxes = Array.from(document.querySelectorAll('input[name="keep"][form="decision-form"]'));
  const whole = button.textContent;
  function update() {
    const kept = boxes.filter((box) => box.checked).length;
    button.textContent = kept === boxes.length ? whole : "Approve selected (" + kept + " of " + boxes.length + " ops)";
  }
  boxes.forEach((box) => box.addEventListener("change", update));
})();
