// The staff app's only script: keeps the pickup queue current without a
// reload. Every 3 seconds it asks for the queue's rows and swaps them in when
// they changed; the region is aria-live, so screen readers hear new pickups.
(function () {
  "use strict";
  function poll(region) {
    var source = region.getAttribute("data-source");
    fetch(source, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { return null; }
        return response.text();
      })
      .then(function (html) {
        if (html !== null && html !== region.innerHTML) { region.innerHTML = html; }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { setTimeout(function () { poll(region); }, 3000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("queue");
    if (region) { setTimeout(function () { poll(region); }, 3000); }
  });
})();
