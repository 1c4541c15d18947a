// Live refresh of the dashboard's pages (the only script; the pages work without it).
// Every data-refresh seconds the page is fetched again and its <main> replaced, unless the
// user is typing in a form, has focus inside the main area, or the tab is hidden.
(function () {
  "use strict";
  var secs = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (!(secs > 0)) { return; }
  function busy() {
    var main = document.getElementById("main");
    var a = document.activeElement;
    if (a && a !== main && main.contains(a)) { return true; }
    var fields = main.querySelectorAll("input[type=text], textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) { return true; }
    }
    return document.hidden;
  }
  function tick() {
    if (busy()) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || busy()) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (fresh) { document.getElementById("main").innerHTML = fresh.innerHTML; }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }
  window.setInterval(tick, secs * 1000);
})();
