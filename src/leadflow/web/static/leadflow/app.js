// Leadflow: the only script besides htmx. Keeps pushed list URLs short by leaving empty
// filters out of htmx GET requests; the server treats a missing and an empty filter alike.
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
