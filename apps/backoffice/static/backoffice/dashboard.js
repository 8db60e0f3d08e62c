// Refreshes the operations dashboard on the admin index from its JSON endpoint: figures, queues and charts.
(function () {
  "use strict";
  var root = document.getElementById("operations-dashboard");
  if (!root) { return; }
  var url = root.getAttribute("data-refresh-url");
  var seconds = parseInt(root.getAttribute("data-refresh-seconds"), 10) || 15;

  function text(value) { return value === null || value === undefined ? "–" : String(value); }

  function fillRows(tableId, rows, empty) {
    var body = document.querySelector("#" + tableId + " tbody");
    if (!body) { return; }
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      var name = document.createElement("td");
      var link = document.createElement("a");
      link.href = row.url;
      link.textContent = row.label;
      name.appendChild(link);
      var count = document.createElement("td");
      count.textContent = text(row.providers);
      tr.appendChild(name);
      tr.appendChild(count);
      body.appendChild(tr);
    });
    if (!rows.length) { body.innerHTML = "<tr><td>" + empty + "</td></tr>"; }
  }

  function apply(data) {
    data.figures.forEach(function (figure) {
      var box = root.querySelector('[data-figure="' + figure.key + '"]');
      if (box) { box.querySelector(".value").textContent = text(figure.value); box.href = figure.url; }
    });
    data.queues.forEach(function (queue) {
      var row = root.querySelector('[data-queue="' + queue.priority + '"]');
      if (!row) { return; }
      row.querySelector('[data-field="messages"]').textContent = text(queue.messages);
      row.querySelector('[data-field="oldest_seconds"]').textContent = text(queue.oldest_seconds);
    });
    fillRows("backoffice-carriers", data.providers_online.carriers, "–");
    fillRows("backoffice-provinces", data.providers_online.provinces, "–");
    // The charts are SVG drawn by the server (apps.backoffice.charts), from our own escaped figures.
    Object.keys(data.charts).forEach(function (name) {
      var box = root.querySelector('[data-chart="' + name + '"]');
      if (box) { box.innerHTML = data.charts[name]; }
    });
    var stamp = root.querySelector("[data-generated]");
    if (stamp) { stamp.textContent = data.generated_at; }
    root.setAttribute("data-refreshed", data.generated_at);
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* offline for a moment: the next round tries again */ })
      .then(function () { window.setTimeout(refresh, seconds * 1000); });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
