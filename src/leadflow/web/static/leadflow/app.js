// Leadflow: the only script besides htmx (the Content-Security-Policy allows no inline code).
// Keeps pushed list URLs short by leaving empty filters out of htmx GET requests; the server
// treats a missing and an empty filter alike.
document.addEventListener("htmx:configRequest", function (event) {
  if (event.detail.verb !== "get") return;
  var params = event.detail.parameters;
  var empty = [];
  var keys = typeof params.keys === "function" ? Array.from(params.keys()) : Object.keys(params);
  keys.forEach(function (key) {
    if (params[key] === "" || (params.get && params.get(key) === "")) empty.push(key);
  });
  empty.forEach(function (key) {
    if (typeof params.delete === "function") params.delete(key); else delete params[key];
  });
});

// The bucket table's "Only unassigned leads" toggle is remembered per bucket in localStorage
// under BUCKETS_FILTERS, e.g. {"12": {"onlyUnassigned": true}}; off when nothing is saved.
(function () {
  var STORE = "BUCKETS_FILTERS";

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE) || "{}");
      return saved && typeof saved === "object" && !Array.isArray(saved) ? saved : {};
    } catch (error) {
      return {};
    }
  }

  function save(bucket, name, value) {
    var saved = load();
    var entry = saved[bucket] && typeof saved[bucket] === "object" ? saved[bucket] : {};
    entry[name] = value;
    saved[bucket] = entry;
    try { window.localStorage.setItem(STORE, JSON.stringify(saved)); } catch (error) { /* full or blocked */ }
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input[data-bucket-filter]")) {
      save(box.dataset.bucket, box.dataset.bucketFilter, box.checked);
    }
  });

  // Runs after htmx has set up the page (its DOMContentLoaded handler was added first).
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-bucket-filter]").forEach(function (box) {
      var entry = load()[box.dataset.bucket];
      if (!entry || typeof entry[box.dataset.bucketFilter] !== "boolean") return;
      var wanted = entry[box.dataset.bucketFilter];
      if (box.checked === wanted) return;
      box.checked = wanted;
      if (box.form) box.form.requestSubmit();  // htmx reloads the table and the address
    });
  });
})();

// Row action menus (<details class="row-menu">): one open at a time, closed by a click elsewhere
// or Escape. Without JavaScript they still open and close on their own summary.
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.row-menu[open]").forEach(function (menu) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.row-menu[open]").forEach(function (menu) {
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });
});

// Countdowns (<time data-countdown datetime=…>): the server writes the end time and how long is
// left; this keeps the time left ticking. At zero it says so; a reload shows the new state.
(function () {
  function left(ms) {
    if (ms <= 0) return "ended";
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    if (h >= 24) return Math.floor(h / 24) + " d " + (h % 24) + " h left";
    if (h > 0) return h + " h " + String(m).padStart(2, "0") + " min left";
    return m + ":" + String(s).padStart(2, "0") + " left";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("datetime"));
      if (isNaN(end)) return;
      if (!el.title) el.title = el.textContent.trim();
      el.textContent = left(end - now);
      el.classList.toggle("ended", end <= now);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSettle", tick);
})();

// Bulk selection on the leads list: "Select all on page" ticks every row box (the server also
// reads it on its own, without JavaScript); a count says how many are ticked.
(function () {
  function boxes() { return document.querySelectorAll('input[name="ids"][form="bulk-form"]'); }
  function count() {
    var out = document.querySelector("[data-selected-count]");
    if (!out) return;
    var n = Array.from(boxes()).filter(function (b) { return b.checked; }).length;
    out.textContent = n ? n + " selected" : "";
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input[data-select-all]")) {
      boxes().forEach(function (b) { b.checked = box.checked; });
      count();
    } else if (box.matches && box.matches('input[name="ids"][form="bulk-form"]')) {
      var all = document.querySelector("input[data-select-all]");
      if (all && !box.checked) all.checked = false;
      count();
    }
  });
  // A new page of results starts with nothing ticked.
  document.addEventListener("htmx:afterSwap", function () {
    var all = document.querySelector("input[data-select-all]");
    if (all) all.checked = false;
    count();
  });
})();

// The pipeline board: dragging a card onto a column fills the card's own Move form (which works
// without JavaScript too) and submits it through htmx. A column the card may not go to refuses
// the drop; Lost opens the form to ask for the reason first.
(function () {
  var dragged = null;

  function column(target) { return target && target.closest ? target.closest("[data-drop-stage]") : null; }

  function option(card, stageId) {
    var select = card.querySelector("form.card-move select[name$='-stage']");
    if (!select) return null;
    return Array.prototype.find.call(select.options, function (o) { return o.value === stageId; }) ? select : null;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".board-card[draggable='true']") : null;
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
  });
  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".board-column.drop-over").forEach(function (c) { c.classList.remove("drop-over"); });
  });
  document.addEventListener("dragover", function (event) {
    var col = column(event.target);
    if (!col || !dragged || !option(dragged, col.dataset.dropStage)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    col.classList.add("drop-over");
  });
  document.addEventListener("dragleave", function (event) {
    var col = column(event.target);
    if (col && !col.contains(event.relatedTarget)) col.classList.remove("drop-over");
  });
  document.addEventListener("drop", function (event) {
    var col = column(event.target);
    var card = dragged || document.getElementById(event.dataTransfer.getData("text/plain"));
    if (!col || !card) return;
    event.preventDefault();
    col.classList.remove("drop-over");
    var select = option(card, col.dataset.dropStage);
    if (!select) return;
    select.value = col.dataset.dropStage;
    var form = select.form;
    if (col.hasAttribute("data-lost")) {
      var box = card.querySelector("details.card-move-box");
      if (box) box.open = true;
      var reason = form.querySelector(".lost-reason select");
      if (reason) { reason.required = true; reason.focus(); }
      return;
    }
    form.requestSubmit();
  });
})();

// The dual-list picker of a campaign's lists: "Select all shown" selects every option of its
// box (without JavaScript the server reads the box itself as all it shows); unselecting an
// option clears it. A search (htmx) replaces the box's options; a ticked "all" selects the new
// ones too.
(function () {
  function box(name) { return document.querySelector('select[data-picker-box="' + name + '"]'); }
  function all(name) { return document.querySelector('input[data-picker-all="' + name + '"]'); }
  function selectAll(name, on) {
    var select = box(name);
    if (!select) return;
    Array.prototype.forEach.call(select.options, function (option) { option.selected = on; });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("input[data-picker-all]")) {
      selectAll(target.dataset.pickerAll, target.checked);
    } else if (target.matches && target.matches("select[data-picker-box]")) {
      var tick = all(target.dataset.pickerBox);
      var every = Array.prototype.every.call(target.options, function (o) { return o.selected; });
      if (tick && !every) tick.checked = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    ["available", "assigned"].forEach(function (name) {
      var tick = all(name);
      if (tick && tick.checked) selectAll(name, true);
    });
  });
})();

// Filter forms (<form data-filter-form hx-trigger="submit, filters-changed">) reload their
// results when any filter changes, except the search box, which has its own delayed trigger.
// The test lives here because an hx-trigger filter expression would need eval, which the
// Content-Security-Policy forbids.
document.addEventListener("change", function (event) {
  var field = event.target;
  var form = field.closest ? field.closest("form[data-filter-form]") : null;
  if (!form || field.name === "q") return;
  form.dispatchEvent(new CustomEvent("filters-changed"));
});
