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
